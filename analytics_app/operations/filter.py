"""filter: the rows matching all (or any) of a list of conditions."""
from rest_framework import serializers

from ..engine.errors import EngineError
from ..engine.filtering import filter_rows
from ..engine.predicates import MAX_LIST_VALUES, OPERATORS, Condition, where_sql
from ..engine.types import column_types
from ..registry import Operation, RunContext, register
from .checks import Choice, Column


class ConditionParams(serializers.Serializer):
    column = Column()
    operator = serializers.CharField(max_length=32, help_text=f"One of {', '.join(OPERATORS)} or == != > >= < <=",
                                     style={"choices": OPERATORS})
    value = serializers.JSONField(required=False, allow_null=True)


class FilterParams(serializers.Serializer):
    filters = ConditionParams(many=True, allow_empty=False, max_length=100,
                              help_text=f"At most 100 conditions; `in`/`not_in` take at most {MAX_LIST_VALUES} values.")
    match = Choice(choices=["all", "any"], default="all")


def conditions_of(params: dict) -> list[Condition]:
    return [Condition(f["column"], f["operator"], f.get("value")) for f in params["filters"]]


def check(params: dict, schema: list[dict]) -> dict:
    types = column_types(schema)
    try:
        where_sql(conditions_of(params), types)
    except EngineError as exc:
        raise serializers.ValidationError({"filters": [exc.message]}) from None
    return params


def run(ctx: RunContext, params: dict):
    conditions = conditions_of(params)
    return ctx.compute(
        lambda con: filter_rows(con, ctx.source, ctx.schema, conditions, params["match"], ctx.result_dir)
    )


register(Operation("filter", "Rows matching all (or any) of the conditions.", FilterParams, run, check))
