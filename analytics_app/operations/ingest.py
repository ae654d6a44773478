"""ingest: a new dataset's upload read once into a typed Parquet table (not offered to users: every upload queues
one). The dataset is READY then; its column profile follows in a job of its own (csv_app.services.profiles)."""
from rest_framework import serializers

from ..engine.errors import EngineError
from ..engine.ingest import ingest_csv
from ..engine.parquet_upload import ingest_parquet
from ..engine.results import DATASET_FILE, TABLE, Result
from ..engine.sniff import Dialect
from ..registry import Operation, RunContext, register

STAGES = {
    "decoding": (0, 30),
    "reading": (30, 99),  # the one pass of an ingest whose sampled types hold
    "inferring types": (30, 60),  # when they do not: a detailed look, then "writing" again
    "writing": (60, 99),
}


class IngestParams(serializers.Serializer):
    pass


def run(ctx: RunContext, params: dict) -> Result:
    upload = ctx.upload
    if upload is None or not upload.path.exists():
        raise EngineError("The uploaded file is no longer available; upload it again.")
    table = ctx.result_dir / DATASET_FILE
    if upload.format == "parquet":
        written = ctx.compute(lambda con: ingest_parquet(con, upload.path, table, tuple(upload.columns)), "reading")
    else:
        dialect = Dialect(encoding=upload.encoding, delimiter=upload.delimiter, columns=tuple(upload.columns))
        written = ingest_csv(upload.path, table, dialect, ctx.limits, ctx.result_dir, ctx.on_progress)
    return Result(files={TABLE: DATASET_FILE}, row_count=written.row_count, columns=written.columns, folder=ctx.result_dir)


register(Operation("ingest", "Read an upload into a typed table.", IngestParams, run,
                   stages=STAGES, reads_upload=True, makes_dataset=True, listed=False,
                   heavy=lambda params: True))
