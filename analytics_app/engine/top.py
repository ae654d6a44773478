"""Top-N groups of a column by the sum, count or mean of a value."""
from pathlib import Path

import duckdb

from .sql import quote_ident
from .results import Result
from .tables import Table
from .writer import write_query
from .trend import aggregate_sql


def top_groups(
    con: duckdb.DuckDBPyConnection, source: Table, by: str, value: str | None, agg: str, limit: int, order: str,
    dest: Path,
) -> Result:
    """Rows {<by>, value}, best first; groups without a key are left out, ties broken by the key."""
    key = quote_ident(by)
    direction = "DESC" if order == "desc" else "ASC"
    sql = (
        f"SELECT {key}, {aggregate_sql(agg, value)} AS value FROM {source.sql} WHERE {key} IS NOT NULL "
        f"GROUP BY {key} ORDER BY value {direction} NULLS LAST, {key} ASC LIMIT ?"
    )
    return write_query(con, sql, [*source.params, limit], dest)
