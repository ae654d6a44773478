"""Parquet tables on disk: writing a query's rows atomically, reading their schema and first rows."""
import os
import queue
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .sql import PARQUET, ROW_ID, quote_ident
from .types import json_value, type_of_arrow

ROWS_PER_GROUP = 122_880


@dataclass
class TableResult:
    """What an operation that produces rows returns."""

    row_count: int
    columns: list[dict]
    value: dict | list | None = None
    files: dict = field(default_factory=dict)


def columns_of_schema(schema: pa.Schema) -> list[dict]:
    return [{"name": f.name, "type": type_of_arrow(f.type)} for f in schema if f.name != ROW_ID]


def read_columns(path: Path) -> list[dict]:
    return columns_of_schema(pq.read_schema(path))


def write_query(con: duckdb.DuckDBPyConnection, sql: str, params: list, dest: Path) -> TableResult:
    """Stream a query's rows into `dest` as Parquet with a row number column, via a temporary name."""
    reader = con.sql(sql, params=params).to_arrow_reader(ROWS_PER_GROUP)
    return write_batches(reader, dest)


def write_batches(reader: pa.RecordBatchReader, dest: Path) -> TableResult:
    """Write every batch with a dense row number; producing and writing overlap in two threads."""
    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    schema = reader.schema.append(pa.field(ROW_ID, pa.int64(), nullable=False))
    text_columns = [f.name for f in reader.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
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
                    ids = pa.array(np.arange(rows, rows + batch.num_rows, dtype=np.int64))
                    pending.put(pa.RecordBatch.from_arrays([*batch.columns, ids], schema=schema))
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
    return TableResult(row_count=rows, columns=columns_of_schema(schema))


def row_count(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def select_list(columns: list[str]) -> str:
    return ", ".join(quote_ident(c) for c in columns)


def head(con: duckdb.DuckDBPyConnection, path: Path, n: int, columns: list[str]) -> list[dict]:
    """The first n rows as JSON-ready dicts, read by row number so only the first row groups are touched."""
    if n <= 0 or not columns:
        return []
    cursor = con.execute(
        f"SELECT {select_list(columns)} FROM {PARQUET} WHERE {quote_ident(ROW_ID)} < ? ORDER BY {quote_ident(ROW_ID)}",
        [str(path), n],
    )
    return rows_as_dicts(cursor, columns)


def rows_as_dicts(cursor, columns: list[str]) -> list[dict]:
    return [{name: json_value(v) for name, v in zip(columns, row)} for row in cursor.fetchall()]


def write_rows(rows: list[dict], dest: Path, schema: pa.Schema | None = None) -> TableResult:
    """A small in-memory result (a summary, a matrix) written like any other table."""
    table = pa.Table.from_pylist(rows, schema=schema) if rows else pa.table({})
    return write_batches(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()), dest)
