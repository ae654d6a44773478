"""The rows that match a list of conditions, in the original order."""
from pathlib import Path

import duckdb

from .predicates import Condition, where_sql
from .sql import PARQUET
from .tables import TableResult, select_list, write_query


def filter_rows(
    con: duckdb.DuckDBPyConnection, source: Path, schema: list[dict], conditions: list[Condition], match: str, dest: Path
) -> TableResult:
    types = {c["name"]: c["type"] for c in schema}
    where, params = where_sql(conditions, types, match)
    names = [c["name"] for c in schema]
    # A filtered scan keeps the file's order (preserve_insertion_order), so no sort is needed.
    sql = f"SELECT {select_list(names)} FROM {PARQUET} WHERE {where}"
    return write_query(con, sql, [str(source), *params], dest)
