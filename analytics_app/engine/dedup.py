"""Rows without duplicates, keeping the first or last of each, in the original order."""
from pathlib import Path

import duckdb

from .sql import PARQUET, ROW_ID, quote_ident
from .tables import TableResult, select_list, write_query


def deduplicate(
    con: duckdb.DuckDBPyConnection, source: Path, all_columns: list[str], key: list[str], keep: str, dest: Path
) -> TableResult:
    """The rows of `source` whose `key` values were not seen before (keep='first') or after (keep='last')."""
    rowid = quote_ident(ROW_ID)
    pick = "min" if keep == "first" else "max"
    survivors = f"SELECT {pick}({rowid}) FROM {PARQUET} GROUP BY {select_list(key)}"
    sql = f"SELECT {select_list(all_columns)} FROM {PARQUET} WHERE {rowid} IN ({survivors}) ORDER BY {rowid}"
    return write_query(con, sql, [str(source), str(source)], dest)
