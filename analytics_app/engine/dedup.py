"""Rows without duplicates, keeping the first or last of each, in the original order."""
from pathlib import Path

import duckdb

from .sql import ROW_ID, quote_ident
from .tables import Table, TableResult, select_list, write_selection


def deduplicate(con: duckdb.DuckDBPyConnection, source: Table, key: list[str], keep: str, dest_dir: Path) -> TableResult:
    """The rows of `source` whose `key` values were not seen before (keep='first') or after (keep='last').

    Only the key columns and row numbers are read; the result is a selection of the source's rows.
    """
    pick = "min" if keep == "first" else "max"
    kept = f"SELECT {pick}({quote_ident(ROW_ID)}) FROM {source.sql} GROUP BY {select_list(key)}"
    return write_selection(con, kept, source.params, source, dest_dir)
