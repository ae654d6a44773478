"""pivot: one row per combination of the row columns, one column per value of another column, each cell the sum,
count, mean, min or max of a value (pandas.pivot_table); at most MAX_COLUMNS output columns."""
from rest_framework import serializers

from ..engine.pivot import MAX_COLUMNS, check_width, pivot
from ..registry import Operation, RunContext, register
from .checks import Choice, Column, ColumnList, require_columns, require_value

AGGREGATES = ["sum", "count", "mean", "min", "max"]


class PivotParams(serializers.Serializer):
    rows = ColumnList(allow_empty=False, help_text="The row column, or a list of them.")
    columns = Column(help_text=f"The column whose values become columns (at most {MAX_COLUMNS}).")
    value = Column(required=False, help_text="The numeric column aggregated in each cell; optional when agg is count.")
    agg = Choice(choices=AGGREGATES, default="sum")


def check(params: dict, schema: list[dict]) -> dict:
    require_columns("rows", params["rows"], schema)
    require_columns("columns", [params["columns"]], schema)
    if params["columns"] in params["rows"]:
        raise serializers.ValidationError({"columns": [f"'{params['columns']}' is already a row column."]})
    require_value(params, schema, "to compute the")
    return params


def preflight(con, source, params: dict, profile: dict | None = None) -> None:
    """The output's width from the dataset's saved profile when it has one (the table is neither read nor
    fetched at submit), else counted from `source()`."""
    saved = ((profile or {}).get("columns") or {}).get(params["columns"])
    if saved:
        check_width(con, None, params["columns"], known=saved["distinct"] + (1 if saved["nulls"] else 0))
    else:
        check_width(con, source(), params["columns"])


def run(ctx: RunContext, params: dict):
    return ctx.compute(lambda con: pivot(
        con, ctx.source, params["rows"], params["columns"], params.get("value"), params["agg"], ctx.table_path()))


register(Operation("pivot", f"Rows x columns x value with sum, count, mean, min or max (at most {MAX_COLUMNS} "
                   "columns).", PivotParams, run, check, preflight=preflight))
