"""statistics: count, mean, median, mode, min, max and std of value columns, per group."""
from rest_framework import serializers

from ..engine.errors import EngineError
from ..engine.statistics import group_statistics
from ..engine.types import coerce, column_types
from ..registry import Operation, RunContext, register
from .checks import NUMERIC_TYPES, ColumnList, require_columns, require_not_written

WRITTEN = ("column", "count", "mean", "median", "mode", "min", "max", "std")  # beside the group_by columns


class StatisticsParams(serializers.Serializer):
    group_by = ColumnList(allow_empty=False, help_text="The grouping column, or a list of them.")
    columns = ColumnList(required=False, allow_empty=False, help_text="Numeric value columns; default all numeric ones.")
    group = serializers.JSONField(required=False, help_text="Only this group (a value, or a list with one per group_by column).")


def check(params: dict, schema: list[dict]) -> dict:
    require_columns("group_by", params["group_by"], schema)
    require_not_written("group_by", params["group_by"], WRITTEN, "statistics")
    types = column_types(schema)
    if "columns" in params:
        require_columns("columns", params["columns"], schema, NUMERIC_TYPES, "a numeric column")
    else:
        params["columns"] = [c["name"] for c in schema if c["type"] in NUMERIC_TYPES and c["name"] not in params["group_by"]]
        if not params["columns"]:
            raise serializers.ValidationError({"columns": ["The dataset has no numeric column to compute statistics of."]})
    if "group" in params:
        group = params["group"] if isinstance(params["group"], list) else [params["group"]]
        if len(group) != len(params["group_by"]):
            raise serializers.ValidationError({"group": [f"Give one value per group_by column ({len(params['group_by'])})."]})
        try:
            params["group"] = [coerce(v, types[g], g) for g, v in zip(params["group_by"], group)]
        except EngineError as exc:
            raise serializers.ValidationError({"group": [exc.message]}) from None
    return params


def run(ctx: RunContext, params: dict):
    whole = all(ctx.types.get(c) == "integer" for c in params["columns"])
    result = ctx.compute(lambda con: group_statistics(
        con, ctx.source, params["group_by"], params["columns"], params.get("group"), ctx.table_path(), whole))
    if result.row_count == 0 and params.get("group") is not None:
        asked = ", ".join(f"{g} = {v!r}" for g, v in zip(params["group_by"], params["group"]))
        result.value = {"note": f"No row has {asked}: that group is not in the data, so the result is empty."}
    return result


register(Operation("statistics", "Per group and value column: count, mean, median, mode, min, max, std.", StatisticsParams, run, check))
