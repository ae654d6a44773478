"""Distinct values of a column with how often each occurs, most frequent first."""
from pathlib import Path

import duckdb

from .sql import quote_ident
from .results import Result
from .tables import Table
from .writer import write_query


def value_counts(con: duckdb.DuckDBPyConnection, source: Table, column: str, dest: Path) -> Result:
    col = quote_ident(column)
    sql = (
        f"SELECT {col} AS value, count(*) AS count FROM {source.sql} "
        f"GROUP BY {col} ORDER BY count DESC, value ASC NULLS LAST"
    )
    return write_query(con, sql, source.params, dest)
