"""Writing a query's rows as a table: Parquet with a dense row number column, streamed, under a temporary name."""
import itertools
import queue
import threading
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .errors import EngineError
from .files import atomic_path
from .results import TABLE, Result
from .sql import ROW_ID, name_key
from .tables import ROWS_PER_GROUP, columns_of_schema


FETCH_GROUPS = 2  # at most this many row groups per batch fetched
FETCH_CELLS = 64  # ... and fewer as the columns grow: 2 groups up to 32 columns, one up to 64, then fewer rows
VECTOR_ROWS = 2048  # DuckDB's vector: the smallest batch
# A text column is dictionary-encoded when its first row group's values repeat at least this often on average: a
# dictionary of mostly distinct values (a zip code, an id) cost a quarter of the writing and saved ~1% of the file.
DICTIONARY_REPEATS = 4


def write_query(
    con: duckdb.DuckDBPyConnection, sql: str, params: list, dest: Path, flags: tuple[str, ...] = (),
    naive: tuple[str, ...] = (),
) -> Result:
    """Stream a query's rows into `dest` as Parquet with a row number column, via a temporary name.

    `flags` name boolean columns of the query that are not written; `flagged` tells which were ever true.
    `naive` name TIMESTAMPTZ columns written as naive UTC times: Arrow drops the zone without touching a value,
    where DuckDB's cast to TIMESTAMP kept it out of the scan (a tenth of an ingest's time at 5 M rows).
    A narrow query's rows are fetched two row groups at a time, a wide one's a group at a time: DuckDB's stream
    costs per batch fetched, and a bigger batch is more memory in flight, touched afresh: an ingest of 5 M rows of
    7 columns faulted in ~430 MB in batches of 8 groups and ~240 MB in batches of 2, peaked ~130 MB lower and was
    ~5% quicker with 2.
    """
    relation = con.sql(sql, params=params)
    _distinct_names(relation.columns)
    return write_batches(relation.to_arrow_reader(batch_rows(len(relation.columns))), dest, flags, naive)


def _distinct_names(names: list[str]) -> None:
    """EngineError unless the columns' names differ as DuckDB tells them apart (regardless of ASCII case): the
    operations refuse requests that would clash, this is the line behind them (such a file cannot be read back)."""
    keys = Counter(name_key(name) for name in names)
    twice = [name for name in names if keys[name_key(name)] > 1]
    if twice:
        raise EngineError(f"The result would hold columns named {', '.join(map(repr, twice))}, and column names "
                          "must differ (regardless of letter case).")


def batch_rows(columns: int) -> int:
    """Rows per batch fetched (and so per row group written) for a query of this many columns: two row groups up
    to 32 columns, one up to FETCH_CELLS, and past that as many rows as FETCH_CELLS groups' worth of cells allows
    (DuckDB reserves a whole batch for every column up front: an ingest of 250 columns, 130,000 rows, peaked at
    742 MB instead of 823 MB), in whole vectors of 2048 rows."""
    columns = max(1, columns)
    if columns <= FETCH_CELLS:
        return max(1, min(FETCH_GROUPS, FETCH_CELLS // columns)) * ROWS_PER_GROUP
    return max(VECTOR_ROWS, FETCH_CELLS * ROWS_PER_GROUP // columns // VECTOR_ROWS * VECTOR_ROWS)


def write_batches(reader: pa.RecordBatchReader, dest: Path, flags: tuple[str, ...] = (),
                  naive: tuple[str, ...] = ()) -> Result:
    """Write every batch with a dense row number; producing and writing overlap in two threads."""
    dest = Path(dest)
    try:
        _distinct_names(reader.schema.names)
    except EngineError:
        reader.close()  # nothing read: the query's result must not stay open on the connection
        raise
    kept = [f.with_type(pa.timestamp(f.type.unit)) if f.name in naive else f
            for f in reader.schema if f.name not in flags]
    schema = pa.schema(kept, metadata=reader.schema.metadata).append(pa.field(ROW_ID, pa.int64(), nullable=False))
    text_columns = [f.name for f in kept if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    batches = iter(reader)
    first = next((batch for batch in batches if batch.num_rows), None)
    dictionary = [name for name in text_columns if first is not None and _repeats(first.column(name))]
    flag_at = [reader.schema.get_field_index(name) for name in flags]
    keep_at = [i for i, f in enumerate(reader.schema) if f.name not in flags]
    flagged: set[str] = set()
    pending: queue.Queue = queue.Queue(maxsize=4)
    failure: list[BaseException] = []

    def consume(writer: pq.ParquetWriter) -> None:
        while (batch := pending.get()) is not None:
            if failure:
                continue
            try:
                writer.write_batch(batch, row_group_size=ROWS_PER_GROUP)
            except BaseException as exc:  # handed to the producing thread
                failure.append(exc)

    rows = 0
    with atomic_path(dest) as tmp:
        deltas = [f.name for f in schema if _delta(f.type)]
        # Floats are stored plain, uncompressed too: snappy saved 12 MB of a 109 MB table (a price column, 5 M rows)
        # and cost every scan of the column its decompression: its sum, min and max took 31-43 ms, not 17-28 ms, a
        # filter on it 33-41 ms, not 16-23 ms (3 runs, best of 3 each), a 30-bin histogram of it, PNG included,
        # 340 ms, not 293 ms (median of 5).
        with pq.ParquetWriter(tmp, schema, use_dictionary=dictionary or False,
                              compression={f.name: "none" if _delta(f.type) or pa.types.is_floating(f.type)
                                           else "snappy" for f in schema},
                              column_encoding={name: "DELTA_BINARY_PACKED" for name in deltas} or None) as writer:
            consumer = threading.Thread(target=consume, args=(writer,), name="ravid-parquet-writer", daemon=True)
            consumer.start()
            try:
                for batch in itertools.chain([first] if first is not None else [], batches):
                    if failure:
                        break
                    if batch.num_rows == 0:
                        continue
                    for name, i in zip(flags, flag_at):
                        if name not in flagged and pc.any(batch.column(i)).as_py():
                            flagged.add(name)
                    ids = pa.array(np.arange(rows, rows + batch.num_rows, dtype=np.int64))
                    columns = [batch.column(i).cast(field.type) if field.name in naive else batch.column(i)
                               for i, field in zip(keep_at, kept)]
                    pending.put(pa.RecordBatch.from_arrays([*columns, ids], schema=schema))
                    rows += batch.num_rows
            finally:
                pending.put(None)
                consumer.join()
            if failure:
                raise failure[0]
    return Result(files={TABLE: dest.name}, row_count=rows, columns=columns_of_schema(schema), folder=dest.parent,
                  flagged=flagged)


def _delta(kind: pa.DataType) -> bool:
    """Integers, dates and times are stored as bit-packed deltas, uncompressed: at 5 M rows a table a third
    smaller than plain + snappy, quicker to write, and scanned by DuckDB in two thirds of the time."""
    return pa.types.is_integer(kind) or (pa.types.is_temporal(kind) and not pa.types.is_interval(kind))


def _repeats(column: pa.Array) -> bool:
    """Whether a text column's values repeat enough, in its first row group, to be worth a dictionary."""
    head = column.slice(0, ROWS_PER_GROUP)
    return pc.count_distinct(head).as_py() * DICTIONARY_REPEATS <= len(head) - head.null_count


def write_rows(rows: list[dict], dest: Path, schema: pa.Schema | None = None) -> Result:
    """A small in-memory result (a summary, a matrix) written like any other table."""
    table = pa.Table.from_pylist(rows, schema=schema) if rows else pa.table({})
    return write_batches(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), dest)
