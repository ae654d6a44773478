"""unique: the distinct values of a column with their counts, most frequent first."""
from rest_framework import serializers

from ..engine.counting import value_counts
from ..registry import Operation, RunContext, register
from .checks import Column, require_columns


class UniqueParams(serializers.Serializer):
    column = Column(help_text="The column to count values of.")


def check(params: dict, schema: list[dict]) -> dict:
    require_columns("column", [params["column"]], schema)
    return params


def run(ctx: RunContext, params: dict):
    return ctx.compute(lambda con: value_counts(con, ctx.source, params["column"], ctx.table_path()))


register(Operation("unique", "Distinct values of a column with their counts.", UniqueParams, run, check))
