"""The rows that match a list of conditions, in the original order."""
from pathlib import Path

import duckdb

from .predicates import Condition, where_sql
from .sql import ROW_ID, quote_ident
from .results import Result
from .selections import write_selection
from .tables import Table
from .types import column_types


def filter_rows(
    con: duckdb.DuckDBPyConnection, source: Table, schema: list[dict], conditions: list[Condition], match: str,
    dest_dir: Path,
) -> Result:
    """A selection of the matching rows: only the filtered columns are read, one bit per row is written."""
    types = column_types(schema)
    where, params = where_sql(conditions, types, match)
    kept = f"SELECT {quote_ident(ROW_ID)} FROM {source.sql} WHERE {where}"
    return write_selection(con, kept, [*source.params, *params], source, dest_dir)
