"""DuckDB connections, and the one function through which identifiers reach SQL."""
import os
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

RESERVED_PREFIX = "__ravid_"  # no data column's name starts so (in any case): ravid's own columns do
ROW_ID = RESERVED_PREFIX + "row"


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


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def name_key(name: str) -> str:
    """A column name as DuckDB tells names apart: regardless of the case of ASCII letters ('Amount' is 'amount'
    to it, even quoted; 'É' is not 'é'). Two names of one key cannot be columns of one table."""
    return name.translate(_ASCII_LOWER)


def unused_name(name: str, taken) -> str:
    """`name`, primed (') until it is none of `taken` (by name_key): an output column's name that no data column
    has."""
    keys = {name_key(t) for t in taken}
    while name_key(name) in keys:
        name += "'"
    return name


@dataclass(frozen=True)
class Sql:
    """A piece of SQL and the values its placeholders take, in order. Pieces compose with `of` and `join`, which
    keep each piece's values beside its text, so a query's values are always in the order of its placeholders."""

    text: str
    params: tuple = ()

    @staticmethod
    def value(value) -> "Sql":
        return Sql("?", (value,))

    @staticmethod
    def of(template: str, *parts) -> "Sql":
        """`template` with each `{}` replaced by a part: a Sql, or text such as a quoted identifier. The template
        itself holds no value (no `?`): values come in as Sql.value parts."""
        pieces = template.split("{}")
        if len(pieces) != len(parts) + 1 or "?" in template:
            raise ValueError("a template takes one part per {} and no ?")
        text, params = pieces[0], []
        for part, piece in zip(parts, pieces[1:]):
            part = part if isinstance(part, Sql) else Sql(str(part))
            text += part.text + piece
            params.extend(part.params)
        return Sql(text, tuple(params))

    @staticmethod
    def join(separator: str, parts: list["Sql"]) -> "Sql":
        return Sql(separator.join(p.text for p in parts), tuple(v for p in parts for v in p.params))


_process_db: dict = {}
_process_lock = threading.Lock()


def _database(limits: Limits) -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB, made on first use (and again after a fork)."""
    key = (os.getpid(), limits)
    with _process_lock:
        db = _process_db.get(key)
        if db is None:
            _process_db.clear()
            config = {
                "memory_limit": limits.memory_limit,
                "threads": limits.threads,
                "preserve_insertion_order": True,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
            if limits.temp_dir:
                config["temp_directory"] = limits.temp_dir
            db = duckdb.connect(database=":memory:", config=config)
            db.execute("SET GLOBAL TimeZone = 'UTC'; SET GLOBAL parquet_metadata_cache = true")
            _process_db[key] = db
        return db


def connect(limits: Limits | None = None) -> duckdb.DuckDBPyConnection:
    """A connection (a cheap cursor) on this process's DuckDB, bounded by `limits`, spilling to `temp_dir`.

    Close it when done; the database and its Parquet metadata cache stay for the next request.
    """
    con = _database(limits or Limits()).cursor()
    con.execute("SET enable_progress_bar = true; SET enable_progress_bar_print = false; SET progress_bar_time = 0")
    return con


@contextmanager
def session(limits: Limits | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for one piece of work, closed at the end of the block."""
    con = connect(limits)
    try:
        yield con
    finally:
        con.close()


PARQUET = "read_parquet(?)"
