"""An operation's form, generated from the serializer the API validates its parameters with, and read back into the
parameters the API would be sent."""
import json
from dataclasses import dataclass, field

from rest_framework import serializers

from analytics_app.operations.checks import Column, ColumnList

CONDITION_ROWS = 3  # rows offered for a list of nested conditions (filter's `filters`)


@dataclass
class Input:
    """One form control: its name, how to draw it (select, multi, number, checkbox, json, text) and its choices."""
    name: str
    label: str
    widget: str
    required: bool
    help: str = ""
    choices: list = field(default_factory=list)
    default: object = None
    minimum: object = None
    maximum: object = None
    step: str = "any"
    group: list = field(default_factory=list)  # nested rows: a list of lists of Input
    is_column: bool = False  # offers the input's columns


def _input(name: str, f, columns: list[str], prefix: str = "") -> Input:
    """The control for field `f`. In a row of a repeated group (prefix), nothing is required: a row left alone is
    not sent."""
    label = name.replace("_", " ")
    default = None if f.default is serializers.empty else f.default
    common = dict(name=prefix + name, label=label, required=f.required and not prefix, help=str(f.help_text or ""),
                  default=default)
    if isinstance(f, ColumnList):
        return Input(widget="multi", choices=columns, is_column=True, **common)
    if isinstance(f, Column):
        return Input(widget="select", choices=columns, is_column=True, **common)
    if isinstance(f, serializers.ChoiceField):
        return Input(widget="select", choices=[str(c) for c in f.choices], **common)
    if f.style.get("choices"):  # a text field whose usual values are listed (filter's operator)
        return Input(widget="select", choices=list(f.style["choices"]), **common)
    if isinstance(f, serializers.BooleanField):
        return Input(widget="checkbox", **common)
    if isinstance(f, (serializers.IntegerField, serializers.FloatField)):
        return Input(widget="number", minimum=getattr(f, "min_value", None), maximum=getattr(f, "max_value", None),
                     step="1" if isinstance(f, serializers.IntegerField) else "any", **common)
    if isinstance(f, serializers.JSONField):
        return Input(widget="json", **common)
    return Input(widget="text", **common)


def operation_inputs(operation, columns: list[str]) -> list[Input]:
    inputs = []
    for name, f in operation.params().fields.items():
        if isinstance(f, serializers.ListSerializer):  # a list of nested objects: a few rows of their fields
            rows = [[_input(sub, sf, columns, f"{name}-{i}-") for sub, sf in f.child.fields.items()]
                    for i in range(CONDITION_ROWS)]
            inputs.append(Input(name=name, label=name.replace("_", " "), widget="rows", required=f.required,
                                help=str(f.help_text or ""), group=rows))
        else:
            inputs.append(_input(name, f, columns))
    return inputs


def _value(widget: str, post, name: str):
    """The value a control sent, as the API's JSON would carry it; None when it was left empty."""
    if widget == "multi":
        return post.getlist(name) or None
    if widget == "checkbox":
        return name in post
    raw = post.get(name, "").strip()
    if raw == "":
        return None
    if widget == "number":
        try:
            return int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            return raw  # the serializer names the field and what it needs
    if widget == "json":
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # plain text is a text value
    return raw


def prefill(inputs: list[Input], post) -> list[Input]:
    """The inputs showing what was sent (a form drawn again with its error)."""
    for item in inputs:
        prefill(sum(item.group, []), post)
        if item.widget == "multi":
            item.default = post.getlist(item.name)
        elif item.widget == "checkbox":
            item.default = item.name in post
        elif item.name in post:
            item.default = post[item.name]
    return inputs


def read_parameters(inputs: list[Input], post) -> dict:
    params = {}
    for item in inputs:
        if item.widget == "rows":
            rows = []
            for row in item.group:
                values = {i.name.rsplit("-", 1)[1]: _value(i.widget, post, i.name) for i in row}
                chosen = [v for i, v in zip(row, values.values()) if not i.is_column]
                if any(v not in (None, False) for v in chosen):  # a row counts once more than its column is set
                    rows.append({k: v for k, v in values.items() if v is not None})
            if rows or item.required:
                params[item.name] = rows
            continue
        value = _value(item.widget, post, item.name)
        if value is not None and not (item.widget == "checkbox" and value is False and not item.required):
            params[item.name] = value
    return params
