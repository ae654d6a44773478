"""dedup: the rows without duplicates, original order kept."""
from rest_framework import serializers

from ..engine.dedup import deduplicate
from ..registry import Operation, RunContext, register
from .checks import Choice, ColumnList, require_columns


class DedupParams(serializers.Serializer):
    columns = ColumnList(required=False, allow_empty=False, help_text="Columns that define a duplicate; default all.")
    keep = Choice(choices=["first", "last"], default="first")


def check(params: dict, schema: list[dict]) -> dict:
    require_columns("columns", params.get("columns", []), schema)
    return params


def run(ctx: RunContext, params: dict):
    key = params.get("columns") or ctx.names
    return ctx.compute(lambda con: deduplicate(con, ctx.source, key, params["keep"], ctx.result_dir))


register(Operation("dedup", "Remove duplicate rows, keeping the first or last of each.", DedupParams, run, check))
