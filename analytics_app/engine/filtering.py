"""The rows that match a list of conditions, in the original order."""
from pathlib import Path

import duckdb

from .predicates import Condition, where_sql
from .sql import PARQUET, ROW_ID, quote_ident
from .tables import TableResult, select_list, write_query


def filter_rows(
    con: duckdb.DuckDBPyConnection, source: Path, schema: list[dict], conditions: list[Condition], match: str, dest: Path
) -> TableResult:
    types = {c["name"]: c["type"] for c in schema}
    where, params = where_sql(conditions, types, match)
    names = [c["name"] for c in schema]
    sql = f"SELECT {select_list(names)} FROM {PARQUET} WHERE {where} ORDER BY {quote_ident(ROW_ID)}"
    return write_query(con, sql, [str(source), *params], dest)
