"""ingest: a new dataset's upload read once into a typed Parquet table, then profiled (not offered to users: every
upload queues one)."""
import logging

import duckdb
from rest_framework import serializers

from ..engine.errors import EngineError
from ..engine.execution import run_with_progress
from ..engine.ingest import ingest_csv
from ..engine.parquet_upload import ingest_parquet
from ..engine.results import DATASET_FILE, PROFILE, PROFILE_FILE, TABLE, Result
from ..engine.sniff import Dialect
from ..engine.sql import session
from ..engine.summary import save_profile, summarize
from ..engine.tables import Table
from ..registry import Operation, RunContext, register

logger = logging.getLogger("ravid.ingest")
STAGES = {
    "decoding": (0, 30),
    "reading": (30, 80),  # the one pass of an ingest whose sampled types hold
    "inferring types": (30, 50),  # when they do not: a detailed look, then "writing" again
    "writing": (50, 80),
    "profiling": (80, 97),
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
    files = {TABLE: DATASET_FILE}
    if ctx.profile_new_datasets and _profile(ctx, Table(table), written.columns):
        files[PROFILE] = PROFILE_FILE
    return Result(files=files, row_count=written.row_count, columns=written.columns, folder=ctx.result_dir)


def _profile(ctx: RunContext, table: Table, columns: list[dict]) -> bool:
    """Save the new dataset's column profile; a failure here only means summaries are computed on demand."""
    names = [c["name"] for c in columns]
    try:
        with session(ctx.limits) as con:
            profile = run_with_progress(con, lambda c: summarize(c, table, columns, names), "profiling", ctx.on_progress)
        save_profile(profile, ctx.result_dir / PROFILE_FILE)
        return True
    except (duckdb.Error, EngineError, MemoryError, OSError, ValueError):
        logger.exception("profiling the dataset failed; summaries will be computed when asked")
        return False


register(Operation("ingest", "Read an upload into a typed table and profile it.", IngestParams, run,
                   stages=STAGES, reads_upload=True, makes_dataset=True, listed=False,
                   heavy=lambda params: True))
