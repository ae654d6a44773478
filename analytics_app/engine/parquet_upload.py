"""Parquet uploads: recognised by their magic bytes, checked from their footer (columns, names, types, rows)
before anything is queued, then read once into ravid's table (a row number added, row groups sized for paging)."""
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .results import Result
from .sniff import check_names, reject
from .sql import quote_ident
from .writer import write_query

MAGIC = b"PAR1"


def is_parquet(path: Path) -> bool:
    size = path.stat().st_size
    if size < 12:
        return False
    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(-4, 2)
        tail = handle.read(4)
    return head == MAGIC and tail == MAGIC


def _supported(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _supported(kind.value_type)
    return (pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)
            or pa.types.is_decimal(kind) or pa.types.is_date(kind) or pa.types.is_timestamp(kind)
            or pa.types.is_string(kind) or pa.types.is_large_string(kind))


def parquet_columns(path: Path, max_columns: int, max_name_chars: int) -> tuple[str, ...]:
    """The Parquet file's column names, checked as a CSV header is, its types supported and its rows there;
    the contract's not-a-CSV error or a sentence naming the column otherwise."""
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except (pa.ArrowException, OSError):
        raise reject("The Parquet file could not be read: it is damaged or incomplete.", not_csv=True) from None
    names = [str(name) for name in schema.names]
    check_names(names, max_columns, max_name_chars)
    for index, field in enumerate(schema, start=1):
        if not _supported(field.type):
            raise reject(f"Column {index} ('{field.name}') is of the Parquet type {field.type}; columns must be "
                         "numbers, text, booleans, dates or timestamps.")
    if meta.num_rows == 0:
        raise reject("The Parquet file has no rows.")
    return tuple(names)


def ingest_parquet(con: duckdb.DuckDBPyConnection, source: Path, dest: Path, columns: tuple[str, ...]) -> Result:
    """The upload's columns, in order, as ravid's table (decimals as doubles, dictionaries as their values)."""
    schema = pq.read_schema(source)
    parts = []
    for name in columns:
        kind = schema.field(name).type
        cast = " :: DOUBLE" if pa.types.is_decimal(kind) else ""
        parts.append(f"{quote_ident(name)}{cast} AS {quote_ident(name)}")
    return write_query(con, f"SELECT {', '.join(parts)} FROM read_parquet(?)", [str(source)], dest)
