"""chart: a line, bar, scatter or histogram PNG of a dataset or of another task's result."""
from rest_framework import serializers

from ..engine.chart import DEFAULT_BINS, KINDS, render_chart
from ..engine.results import IMAGE, IMAGE_FILE, Result
from ..engine.trend import AGGREGATES
from ..registry import Operation, RunContext, register
from .checks import Choice, Column, NUMERIC_TYPES, require_columns


class ChartParams(serializers.Serializer):
    kind = Choice(choices=KINDS)
    x = Column()
    y = Column(required=False, help_text="Not for histogram.")
    agg = Choice(choices=list(AGGREGATES), required=False, help_text="Aggregate y by x first.")
    title = serializers.CharField(max_length=200, required=False)
    bins = serializers.IntegerField(min_value=1, max_value=500, default=DEFAULT_BINS, help_text="Histogram bins.")


def check(params: dict, schema: list[dict]) -> dict:
    if params["kind"] == "histogram":
        require_columns("x", [params["x"]], schema, NUMERIC_TYPES, "a numeric column")
        if "y" in params:
            raise serializers.ValidationError({"y": ["A histogram takes only x."]})
        return params
    require_columns("x", [params["x"]], schema)
    if "y" not in params and params.get("agg") != "count":
        raise serializers.ValidationError({"y": [f"A {params['kind']} chart needs y (or agg=count)."]})
    if "y" in params:
        kinds = None if params.get("agg") == "count" else NUMERIC_TYPES
        require_columns("y", [params["y"]], schema, kinds, "a numeric column")
    return params


def run(ctx: RunContext, params: dict) -> Result:
    info = ctx.compute(lambda con: render_chart(
        con, ctx.source, params["kind"], params["x"], params.get("y"), params.get("agg"), params.get("title"),
        ctx.image_path(), params["bins"]), stage="rendering")
    return Result(files={IMAGE: IMAGE_FILE}, value=info or None, folder=ctx.result_dir)


register(Operation("chart", "A line, bar, scatter or histogram PNG.", ChartParams, run, check))
