"""Engine fixtures: CSV text to a sniffed, ingested Parquet file in a temp folder."""
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics_app.engine.ingest import ingest_csv
from analytics_app.engine.results import Result
from analytics_app.engine.sniff import sniff
from analytics_app.engine.sql import Limits, connect
from analytics_app.engine.tables import Table


@pytest.fixture
def ingest(tmp_path):
    def make(data: str | bytes, name: str = "in.csv", head: int | None = None):
        raw = data.encode("utf-8") if isinstance(data, str) else data
        src = tmp_path / name
        src.write_bytes(raw)
        dialect = sniff(raw[:head] if head else raw, complete=head is None, max_columns=100)
        dest = tmp_path / (name + ".parquet")
        result = ingest_csv(src, dest, dialect, Limits(memory_limit="256MB", threads=1), tmp_path / "work")
        return Table(dest), result

    return make


@pytest.fixture
def con():
    connection = connect(Limits(memory_limit="256MB", threads=1))
    yield connection
    connection.close()


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "result.parquet"


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """Where an operation that produces a selection writes it."""
    return tmp_path / "result"


def rows_of(table: Table | Result | Path) -> pd.DataFrame:
    """A table's rows in order, without the row number, as pandas reads them from Arrow."""
    table = table.table() if isinstance(table, Result) else table
    table = Table(table) if isinstance(table, Path) else table
    con = duckdb.connect()
    try:
        query = f"SELECT * EXCLUDE (__ravid_row) FROM {table.sql} ORDER BY __ravid_row"
        return con.sql(query, params=table.params).to_arrow_table().to_pandas()
    finally:
        con.close()
