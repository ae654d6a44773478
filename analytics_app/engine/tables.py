"""Parquet tables on disk: writing a query's rows atomically, reading their schema and rows by position.

A table is a Parquet file with a dense row number column, or a *selection*: the rows of such a file that a
small mask file keeps (what a dedup or a filter produces), so those operations write one bit per row instead
of copying every kept row.
"""
import json
import os
import queue
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .sql import PARQUET, ROW_ID, quote_ident
from .types import json_value, type_of_arrow

ROWS_PER_GROUP = 122_880
KEEP = "keep"
KEPT_PER_GROUP = b"ravid.kept_per_group"
SOURCE_FILE = "source.parquet"
SELECTION_FILE = "selection.parquet"


@dataclass(frozen=True)
class Table:
    """What the engine reads: a Parquet file, or the rows of one that a selection file keeps.

    `sql` is a FROM-clause fragment and `params` its parameters, in order. A selection's rows keep the row
    numbers of the file they come from, so they are ordered but not dense; `rows_at` pages by position.
    """

    path: Path
    selection: Path | None = None

    @property
    def sql(self) -> str:
        if self.selection is None:
            return PARQUET
        return f"(SELECT s.* FROM read_parquet(?) s POSITIONAL JOIN read_parquet(?) m WHERE m.{quote_ident(KEEP)})"

    @property
    def params(self) -> list[str]:
        return [str(self.path)] if self.selection is None else [str(self.path), str(self.selection)]

    def exists(self) -> bool:
        return self.path.exists() and (self.selection is None or self.selection.exists())

    def row_count(self) -> int:
        if self.selection is None:
            return row_count(self.path)
        return sum(_kept_per_group(self.selection))

    @classmethod
    def in_folder(cls, folder: Path) -> "Table":
        """The table a result folder holds: a selection when it has one, else its result.parquet."""
        if (folder / SELECTION_FILE).exists():
            return cls(folder / SOURCE_FILE, folder / SELECTION_FILE)
        return cls(folder / "result.parquet")


@dataclass
class TableResult:
    """What an operation that produces rows returns."""

    row_count: int
    columns: list[dict]
    value: dict | list | None = None
    files: dict = field(default_factory=dict)
    flagged: set[str] = field(default_factory=set)


def columns_of_schema(schema: pa.Schema) -> list[dict]:
    return [{"name": f.name, "type": type_of_arrow(f.type)} for f in schema if f.name != ROW_ID]


def read_columns(path: Path) -> list[dict]:
    return columns_of_schema(pq.read_schema(path))


def write_query(
    con: duckdb.DuckDBPyConnection, sql: str, params: list, dest: Path, flags: tuple[str, ...] = ()
) -> TableResult:
    """Stream a query's rows into `dest` as Parquet with a row number column, via a temporary name.

    `flags` name boolean columns of the query that are not written; `flagged` tells which were ever true.
    """
    reader = con.sql(sql, params=params).to_arrow_reader(ROWS_PER_GROUP)
    return write_batches(reader, dest, flags)


def write_batches(reader: pa.RecordBatchReader, dest: Path, flags: tuple[str, ...] = ()) -> TableResult:
    """Write every batch with a dense row number; producing and writing overlap in two threads."""
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    kept = [f for f in reader.schema if f.name not in flags]
    schema = pa.schema(kept, metadata=reader.schema.metadata).append(pa.field(ROW_ID, pa.int64(), nullable=False))
    text_columns = [f.name for f in kept if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
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
    try:
        with pq.ParquetWriter(tmp, schema, compression="snappy", use_dictionary=text_columns or False) as writer:
            consumer = threading.Thread(target=consume, args=(writer,), name="ravid-parquet-writer", daemon=True)
            consumer.start()
            try:
                for batch in reader:
                    if failure:
                        break
                    if batch.num_rows == 0:
                        continue
                    for name, i in zip(flags, flag_at):
                        if name not in flagged and pc.any(batch.column(i)).as_py():
                            flagged.add(name)
                    ids = pa.array(np.arange(rows, rows + batch.num_rows, dtype=np.int64))
                    pending.put(pa.RecordBatch.from_arrays([*(batch.column(i) for i in keep_at), ids], schema=schema))
                    rows += batch.num_rows
            finally:
                pending.put(None)
                consumer.join()
            if failure:
                raise failure[0]
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return TableResult(row_count=rows, columns=columns_of_schema(schema), flagged=flagged)


def _kept_per_group(selection: Path) -> list[int]:
    return json.loads(pq.read_metadata(selection).metadata[KEPT_PER_GROUP])


def write_selection(con: duckdb.DuckDBPyConnection, kept_sql: str, params: list, source: Table, dest_dir: Path) -> TableResult:
    """Record which rows of `source` a query keeps; `kept_sql` returns their row numbers (in any order).

    The folder gets a link to the underlying Parquet file (so the result outlives the dataset or task it came
    from) and a mask with one boolean per row, in row groups of ROWS_PER_GROUP, with the kept count per group.
    """
    total = row_count(source.path)
    keep = np.zeros(total, dtype=bool)
    for batch in con.sql(kept_sql, params=params).to_arrow_reader(1 << 20):
        keep[batch.column(0).to_numpy()] = True
    starts = np.arange(0, total, ROWS_PER_GROUP)
    kept = np.add.reduceat(keep, starts, dtype=np.int64).tolist() if total else []
    schema = pa.schema([pa.field(KEEP, pa.bool_(), nullable=False)], metadata={KEPT_PER_GROUP: json.dumps(kept)})
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / f".{SELECTION_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(pa.table({KEEP: keep}, schema=schema), tmp, row_group_size=ROWS_PER_GROUP,
                       compression="snappy", use_dictionary=False)
        link_or_copy(source.path, dest_dir / SOURCE_FILE)
        os.replace(tmp, dest_dir / SELECTION_FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return TableResult(row_count=sum(kept), columns=read_columns(source.path))


def link_or_copy(src: Path, dest: Path) -> None:
    """A hard link when the file system allows it (no data copied), else a copy."""
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        import shutil

        shutil.copyfile(src, dest)


def rows_at(con: duckdb.DuckDBPyConnection, table: Table, start: int, stop: int, columns: list[str]) -> list[dict]:
    """Rows start..stop-1 by position, as JSON-ready dicts, reading only the row groups that hold them."""
    if stop <= start or not columns:
        return []
    rowid = quote_ident(ROW_ID)
    select = select_list(columns)
    if table.selection is None:
        cursor = con.execute(
            f"SELECT {select} FROM {PARQUET} WHERE {rowid} >= ? AND {rowid} < ? ORDER BY {rowid}",
            [str(table.path), start, stop],
        )
        return rows_as_dicts(cursor, columns)
    ids = _selected_ids(table.selection, start, stop)
    if not ids:
        return []
    cursor = con.execute(
        f"SELECT {select} FROM {PARQUET} WHERE {rowid} BETWEEN ? AND ? "
        f"AND {rowid} IN (SELECT unnest(CAST(? AS BIGINT[]))) ORDER BY {rowid}",
        [str(table.path), ids[0], ids[-1], ids],
    )
    return rows_as_dicts(cursor, columns)


def _selected_ids(selection: Path, start: int, stop: int) -> list[int]:
    """Underlying row numbers of a selection's rows start..stop-1, from the mask's row groups that hold them."""
    kept = _kept_per_group(selection)
    before = np.concatenate([[0], np.cumsum(kept, dtype=np.int64)])
    first = int(np.searchsorted(before, start, side="right")) - 1
    mask = pq.ParquetFile(selection)
    ids: list[int] = []
    group = max(first, 0)
    while group < len(kept) and before[group] < stop:
        if kept[group]:
            positions = np.flatnonzero(mask.read_row_group(group, columns=[KEEP]).column(0).to_numpy())
            positions = positions + group * ROWS_PER_GROUP
            lo, hi = max(start - before[group], 0), stop - before[group]
            ids.extend(positions[lo:hi].tolist())
        group += 1
    return ids


def materialise(con: duckdb.DuckDBPyConnection, table: Table, dest: Path) -> TableResult:
    """A selection written out as a Parquet file of its own (with dense row numbers)."""
    names = [c["name"] for c in read_columns(table.path)]
    sql = f"SELECT {select_list(names)} FROM {table.sql} ORDER BY {quote_ident(ROW_ID)}"
    return write_query(con, sql, table.params, dest)


def row_count(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def select_list(columns: list[str]) -> str:
    return ", ".join(quote_ident(c) for c in columns)


def head(con: duckdb.DuckDBPyConnection, table: Table, n: int, columns: list[str]) -> list[dict]:
    """The first n rows as JSON-ready dicts; only the first row groups are touched."""
    return rows_at(con, table, 0, n, columns)


def rows_as_dicts(cursor, columns: list[str]) -> list[dict]:
    return [{name: json_value(v) for name, v in zip(columns, row)} for row in cursor.fetchall()]


def write_rows(rows: list[dict], dest: Path, schema: pa.Schema | None = None) -> TableResult:
    """A small in-memory result (a summary, a matrix) written like any other table."""
    table = pa.Table.from_pylist(rows, schema=schema) if rows else pa.table({})
    return write_batches(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), dest)
