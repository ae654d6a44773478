"""histogram: counts of a numeric column's values in equal-width bins (a count of bins, or their width), overall
or per group; the result is the bin table and a PNG of it."""
from rest_framework import serializers

from ..engine.histogram import MAX_BINS, histogram
from ..registry import Operation, RunContext, register
from .checks import Column, NUMERIC_TYPES, require_columns, require_not_written

WRITTEN = ("bin_start", "bin_end", "count")  # beside the group_by column


class HistogramParams(serializers.Serializer):
    column = Column(help_text="A numeric column.")
    bins = serializers.IntegerField(min_value=1, max_value=MAX_BINS, required=False,
                                    help_text="How many equal bins from the minimum to the maximum (default 10).")
    width = serializers.FloatField(required=False, help_text=f"Or: the bins' width, more than 0 (at most {MAX_BINS} "
                                                             "bins).")
    group_by = Column(required=False,
                                     help_text="One histogram per value of this column, over the same bins.")


def check(params: dict, schema: list[dict]) -> dict:
    require_columns("column", [params["column"]], schema, NUMERIC_TYPES, "a numeric column")
    if "bins" in params and "width" in params:
        raise serializers.ValidationError({"width": ["Give bins or width, not both."]})
    if "width" in params and not params["width"] > 0:
        raise serializers.ValidationError({"width": ["The width must be more than 0."]})
    if "width" not in params:
        params.setdefault("bins", 10)
    if "group_by" in params:
        require_columns("group_by", [params["group_by"]], schema)
        require_not_written("group_by", [params["group_by"]], WRITTEN, "histogram")
    return params


def run(ctx: RunContext, params: dict):
    return ctx.compute(lambda con: histogram(
        con, ctx.source, params["column"], params.get("bins"), params.get("width"), params.get("group_by"),
        ctx.result_dir))


register(Operation("histogram", "Counts of a numeric column in equal-width bins (overall or per group), with a PNG.",
                   HistogramParams, run, check))
