"""Rows without duplicates, keeping the first or last of each, in the original order."""
from pathlib import Path

import duckdb

from .sql import ROW_ID, quote_ident
from .results import Result
from .selections import write_selection
from .tables import Table, select_list


def deduplicate(con: duckdb.DuckDBPyConnection, source: Table, key: list[str], keep: str, dest_dir: Path) -> Result:
    """The rows of `source` whose `key` values were not seen before (keep='first') or after (keep='last').

    Only the key columns and row numbers are read; the result is a selection of the source's rows.
    """
    pick = "min" if keep == "first" else "max"
    table, row = source.sql, quote_ident(ROW_ID)
    if source.selection is None:
        # A file's row numbers are its row positions, which DuckDB yields without decoding a column.
        table, row = "read_parquet(?, file_row_number = true)", "file_row_number"
    kept = f"SELECT {pick}({row}) FROM {table} GROUP BY {select_list(key)}"
    return write_selection(con, kept, source.params, source, dest_dir)
