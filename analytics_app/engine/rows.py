"""Pages of a table's rows: chosen columns, typed filters, sorting, served without reading the whole file."""
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .errors import EngineError
from .predicates import Condition, where_sql
from .sql import PARQUET, ROW_ID, quote_ident
from .tables import row_count, rows_as_dicts


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
    path: Path,
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
    source = PARQUET
    if not conditions and not sort:
        # Row numbers are dense and stored in order: row-group statistics skip straight to the page.
        total = known_total if known_total is not None else row_count(path)
        cursor = con.execute(
            f"SELECT {select} FROM {source} WHERE {rowid} >= ? AND {rowid} < ? ORDER BY {rowid}",
            [str(path), offset, offset + page_size],
        )
        return Page(total=total, items=rows_as_dicts(cursor, wanted))
    total = con.execute(f"SELECT count(*) FROM {source} WHERE {where}", [str(path), *params]).fetchall()[0][0]
    order = ", ".join(
        f"{quote_ident(k.column)} {'DESC' if k.descending else 'ASC'} NULLS LAST" for k in sort
    )
    order = f"{order}, {rowid}" if order else rowid
    cursor = con.execute(
        f"SELECT {select} FROM {source} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
        [str(path), *params, page_size, offset],
    )
    return Page(total=total, items=rows_as_dicts(cursor, wanted))
