"""Pages of a table's rows: chosen columns, typed filters, sorting, served without reading the whole file."""
from dataclasses import dataclass

import duckdb

from .errors import EngineError
from .predicates import Condition, where_sql
from .sql import ROW_ID, quote_ident
from .tables import Table, rows_as_dicts, rows_at


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
    types = {c["name"]: c["type"] for c in schema}
    wanted = columns or [c["name"] for c in schema]
    for name in wanted:
        if name not in types:
            raise EngineError(f"Unknown column '{name}'.", {"columns": [f"Unknown column '{name}'."]})
    for key in sort:
        if key.column not in types:
            raise EngineError(f"Unknown sort column '{key.column}'.", {"sort": [f"Unknown column '{key.column}'."]})
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
