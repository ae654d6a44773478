"""correlation: the Pearson, Spearman or Kendall matrix of numeric columns."""
from rest_framework import serializers

from ..engine.correlation import METHODS, correlate
from ..engine.writer import write_rows
from ..registry import Operation, RunContext, register
from ..engine.sql import unused_name
from .checks import NUMERIC_TYPES, Choice, ColumnList, require_columns


class CorrelationParams(serializers.Serializer):
    columns = ColumnList(required=False, allow_empty=False, help_text="Numeric columns; default all numeric ones.")
    method = Choice(choices=METHODS, default="pearson")


def check(params: dict, schema: list[dict]) -> dict:
    if "columns" in params:
        require_columns("columns", params["columns"], schema, NUMERIC_TYPES, "a numeric column")
        params["columns"] = list(dict.fromkeys(params["columns"]))
    else:
        params["columns"] = [c["name"] for c in schema if c["type"] in NUMERIC_TYPES]
    if len(params["columns"]) < 2:
        raise serializers.ValidationError({"columns": ["A correlation needs at least two numeric columns."]})
    return params


def run(ctx: RunContext, params: dict):
    columns = params["columns"]

    def work(con):
        matrix = correlate(con, ctx.source, columns, params["method"])
        label = unused_name("column", columns)  # each row's label: `column'` beside a column named `column`
        result = write_rows([{label: a, **matrix[a]} for a in columns], ctx.table_path())
        result.value = matrix
        return result

    return ctx.compute(work)


register(Operation("correlation", "Correlation matrix (pearson, spearman or kendall) of numeric columns.", CorrelationParams, run, check,
                   heavy=lambda params: params.get("method") == "kendall"))
