"""Pages of a table's rows: chosen columns, typed filters, sorting, served without reading the whole file;
rows by position, reading only the row groups that hold them."""
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import EngineError, unknown_column
from .predicates import Condition, where_sql
from .selections import selected_ids
from .sql import PARQUET, ROW_ID, quote_ident
from .tables import Table, select_list
from .types import column_types, json_value


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass
class Page:
    total: int
    items: list[dict]


def read_page(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    schema: list[dict],
    columns: list[str] | None,
    conditions: list[Condition],
    sort: list[SortKey],
    page: int,
    page_size: int,
    known_total: int | None = None,
) -> Page:
    """Rows of one page and the number of matching rows; unknown names raise EngineError."""
    types = column_types(schema)
    wanted = columns or [c["name"] for c in schema]
    for name in wanted:
        if name not in types:
            raise EngineError(unknown_column(name, types), {"columns": [unknown_column(name, types)]})
    for key in sort:
        if key.column not in types:
            raise EngineError(unknown_column(key.column, types, "sort column"),
                              {"sort": [unknown_column(key.column, types)]})
    where, params = where_sql(conditions, types, field="f")
    offset = (page - 1) * page_size
    rowid = quote_ident(ROW_ID)
    select = ", ".join(quote_ident(n) for n in wanted)
    if not conditions and not sort:
        # Rows are stored in order with their numbers: row-group statistics skip straight to the page.
        total = known_total if known_total is not None else table.row_count()
        return Page(total=total, items=rows_at(con, table, offset, offset + page_size, wanted))
    source = table.sql
    total = con.execute(f"SELECT count(*) FROM {source} WHERE {where}", [*table.params, *params]).fetchall()[0][0]
    order = ", ".join(
        f"{quote_ident(k.column)} {'DESC' if k.descending else 'ASC'} NULLS LAST" for k in sort
    )
    order = f"{order}, {rowid}" if order else rowid
    cursor = con.execute(
        f"SELECT {select} FROM {source} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
        [*table.params, *params, page_size, offset],
    )
    return Page(total=total, items=rows_as_dicts(cursor, wanted))


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
    ids = selected_ids(table.selection, start, stop)
    if not ids:
        return []
    cursor = con.execute(
        f"SELECT {select} FROM {PARQUET} WHERE {rowid} BETWEEN ? AND ? "
        f"AND {rowid} IN (SELECT unnest(CAST(? AS BIGINT[]))) ORDER BY {rowid}",
        [str(table.path), ids[0], ids[-1], ids],
    )
    return rows_as_dicts(cursor, columns)


def head(con: duckdb.DuckDBPyConnection, table: Table, n: int, columns: list[str]) -> list[dict]:
    """The first n rows as JSON-ready dicts; only the first row groups are touched. A whole table of plain
    columns is read with pyarrow (rows are stored in order): a third of DuckDB's time for the few rows of a
    small result, which every finished task's status shows."""
    if table.selection is None and n > 0 and columns:
        file = pq.ParquetFile(table.path)
        if all(_plain(file.schema_arrow.field(name).type) for name in columns):
            batch = next(file.iter_batches(batch_size=n, columns=columns), None)
            if batch is None:
                return []
            return [{name: json_value(v) for name, v in row.items()} for row in batch.to_pylist()]
    return rows_at(con, table, 0, n, columns)


def _plain(kind: pa.DataType) -> bool:
    """A type that pyarrow and DuckDB give alike to Python (numbers, text, booleans, dates, timestamps in us)."""
    return (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_string(kind)
            or pa.types.is_large_string(kind) or pa.types.is_boolean(kind) or pa.types.is_date32(kind)
            or (pa.types.is_timestamp(kind) and kind.unit == "us") or pa.types.is_decimal(kind))


def rows_as_dicts(cursor, columns: list[str]) -> list[dict]:
    return [{name: json_value(v) for name, v in zip(columns, row)} for row in cursor.fetchall()]
