"""DuckDB connections, and the one function through which identifiers reach SQL."""
from dataclasses import dataclass

import duckdb

ROW_ID = "__ravid_row"


@dataclass(frozen=True)
class Limits:
    memory_limit: str = "1GB"
    threads: int = 2
    temp_dir: str | None = None


def quote_ident(name: str) -> str:
    """Quote a column name for DuckDB; the only way an identifier enters a query."""
    if not isinstance(name, str) or name == "" or "\x00" in name:
        raise ValueError("invalid identifier")
    return '"' + name.replace('"', '""') + '"'


def connect(limits: Limits | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection bounded by `limits`, spilling to `temp_dir`."""
    limits = limits or Limits()
    config = {
        "memory_limit": limits.memory_limit,
        "threads": limits.threads,
        "preserve_insertion_order": True,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if limits.temp_dir:
        config["temp_directory"] = limits.temp_dir
    con = duckdb.connect(database=":memory:", config=config)
    con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false; SET TimeZone = 'UTC'")
    return con


PARQUET = "read_parquet(?)"
