"""top: the top-N groups of a column by the sum, count or mean of a value."""
from rest_framework import serializers

from ..engine.top import top_groups
from ..registry import Operation, RunContext, register
from .checks import Choice, Column, require_columns, require_not_written, require_value

WRITTEN = ("value",)  # beside the `by` column


class TopParams(serializers.Serializer):
    by = Column(help_text="The column whose values are ranked.")
    value = Column(required=False, help_text="Numeric column; optional when agg is count.")
    agg = Choice(choices=["sum", "count", "mean"], default="sum")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    order = Choice(choices=["desc", "asc"], default="desc")


def check(params: dict, schema: list[dict]) -> dict:
    require_columns("by", [params["by"]], schema)
    require_not_written("by", [params["by"]], WRITTEN, "top")
    require_value(params, schema, "to rank by its")
    return params


def run(ctx: RunContext, params: dict):
    return ctx.compute(lambda con: top_groups(
        con, ctx.source, params["by"], params.get("value"), params["agg"], params["limit"], params["order"],
        ctx.table_path()))


register(Operation("top", "Top-N values of a column by the sum, count or mean of another.", TopParams, run, check))
