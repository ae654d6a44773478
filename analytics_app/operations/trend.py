"""trend: a value aggregated over day, week, month, quarter or year buckets of a date column."""
from rest_framework import serializers

from ..engine.trend import AGGREGATES, FREQUENCIES, trend_series
from ..registry import Operation, RunContext, register
from .checks import Choice, Column, DATE_TYPES, require_columns, require_not_written, require_value

WRITTEN = ("date", "value")  # beside the group_by column


class TrendParams(serializers.Serializer):
    date = Column(help_text="A date or datetime column.")
    value = Column(required=False, help_text="Numeric column; optional when agg is count.")
    freq = Choice(choices=list(FREQUENCIES), default="M")
    agg = Choice(choices=list(AGGREGATES), default="sum")
    group_by = Column(required=False, help_text="One series per value of this column.")


def check(params: dict, schema: list[dict]) -> dict:
    require_columns("date", [params["date"]], schema, DATE_TYPES, "a date or datetime column")
    require_value(params, schema, "to compute the")
    if "group_by" in params:
        require_columns("group_by", [params["group_by"]], schema)
        require_not_written("group_by", [params["group_by"]], WRITTEN, "trend")
    return params


def run(ctx: RunContext, params: dict):
    return ctx.compute(lambda con: trend_series(
        con, ctx.source, params["date"], params.get("value"), params["freq"], params["agg"],
        params.get("group_by"), ctx.table_path()))


register(Operation("trend", "A date column bucketed by D/W/M/Q/Y with sum, mean, count, min, max or median.", TrendParams, run, check))
