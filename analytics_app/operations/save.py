"""save: a task's table result written as a new dataset's table (not offered as an operation: POST
/api/tasks/{id}/save-as-dataset queues one). A plain table is linked, a selection written out (seconds per
10 M rows), so it runs as a job, never inside a request."""
from dataclasses import replace

from rest_framework import serializers

from ..engine.errors import EngineError
from ..engine.results import save_table_as_dataset
from ..registry import Operation, RunContext, register


class SaveParams(serializers.Serializer):
    pass


def run(ctx: RunContext, params: dict):
    if ctx.source is None:
        raise EngineError("The task result to save no longer exists.")
    result = ctx.compute(lambda con: save_table_as_dataset(con, ctx.source, ctx.result_dir), "writing")
    return replace(result, row_count=result.table().row_count(), columns=list(ctx.schema))


register(Operation("save", "Write a task's table result as a new dataset.", SaveParams, run,
                   stages={"writing": (0, 99)}, listed=False, makes_dataset=True))
