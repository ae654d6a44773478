"""summary: a profile of each column: counts, nulls, distinct values, statistics by type."""
from rest_framework import serializers

from ..engine.summary import SUMMARY_SCHEMA, load_profile, profile_of, summarize, summary_rows
from ..engine.writer import write_rows
from ..registry import Operation, RunContext, register
from .checks import ColumnList, require_columns


class SummaryParams(serializers.Serializer):
    columns = ColumnList(required=False, allow_empty=False, help_text="Columns to profile; default all.")


def check(params: dict, schema: list[dict]) -> dict:
    require_columns("columns", params.get("columns", []), schema)
    return params


def run(ctx: RunContext, params: dict):
    columns = params.get("columns") or ctx.names
    # A dataset is profiled when it is ingested; only this operation reads that file.
    saved = profile_of(load_profile(ctx.profile_file), columns) if ctx.profile_file else None

    def work(con):
        profile = saved or summarize(con, ctx.source, ctx.schema, columns)
        result = write_rows(summary_rows(profile), ctx.table_path(), SUMMARY_SCHEMA)
        result.value = profile["columns"]
        return result

    return ctx.compute(work)


register(Operation("summary", "Per column: type, count, nulls, distinct; mean, std, quartiles; top values; date range.", SummaryParams, run, check))
