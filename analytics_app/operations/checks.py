"""Checks of an operation's parameters against the dataset's columns, shared by the operations."""
from rest_framework import serializers

from ..engine.errors import unknown_column
from ..engine.sql import name_key
from ..engine.types import NUMERIC, TEMPORAL, column_types


def require_columns(field: str, names: list[str], schema: list[dict], kinds: tuple[str, ...] | None = None, what: str = "") -> None:
    """Every name is a column of the dataset (and of one of `kinds`), or a 400 naming the field."""
    types = column_types(schema)
    for name in names:
        if name not in types:
            raise serializers.ValidationError({field: [unknown_column(name, types)]})
        if kinds and types[name] not in kinds:
            raise serializers.ValidationError(
                {field: [f"Column '{name}' is {types[name]}; {what or ' or '.join(kinds)} is needed."]}
            )


def require_not_written(field: str, names: list[str], written: tuple[str, ...], operation: str) -> None:
    """None of `names` (columns the result keeps under their own names) is one of the columns the operation
    writes itself, or a 400: a result cannot hold two columns of one name."""
    keys = {name_key(w): w for w in written}
    for name in names:
        if name_key(name) in keys:
            raise serializers.ValidationError({field: [
                f"'{name}' is also the name of a column {operation} writes itself ({', '.join(written)}), and a "
                f"result cannot hold two columns of one name: choose another column."]})


def require_value(params: dict, schema: list[dict], purpose: str) -> None:
    """`value` is a numeric column (any column when agg is count, when it may also be left out)."""
    if "value" in params:
        kinds = None if params["agg"] == "count" else NUMERIC
        require_columns("value", [params["value"]], schema, kinds, "a numeric column")
    elif params["agg"] != "count":
        raise serializers.ValidationError({"value": [f"A value column is needed {purpose} {params['agg']}."]})


class Choice(serializers.ChoiceField):
    """A choice whose error names the values allowed."""

    def __init__(self, choices, **kwargs):
        super().__init__(choices, **kwargs)
        allowed = ", ".join(str(c) for c in self.choices)
        self.error_messages["invalid_choice"] = f'"{{input}}" is not a valid choice; use one of: {allowed}.'


class Column(serializers.CharField):
    """A column's name (checked against the dataset by the operation's check; the web app offers the columns)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 1024)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class ColumnList(serializers.ListField):
    """A list of column names; a single name or a comma-separated string is accepted too."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(max_length=1024, trim_whitespace=False))
        kwargs.setdefault("max_length", 2000)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [part for part in (p.strip() for p in data.split(",")) if part]
        return list(dict.fromkeys(super().to_internal_value(data)))  # a column named twice counts once


NUMERIC_TYPES = NUMERIC
DATE_TYPES = TEMPORAL
