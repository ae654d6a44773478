"""Engine fixtures: CSV text to a sniffed, ingested Parquet file in a temp folder."""
from pathlib import Path

import pytest

from analytics_app.engine.ingest import ingest_csv
from analytics_app.engine.sniff import sniff
from analytics_app.engine.sql import Limits, connect


@pytest.fixture
def ingest(tmp_path):
    def make(data: str | bytes, name: str = "in.csv", head: int | None = None):
        raw = data.encode("utf-8") if isinstance(data, str) else data
        src = tmp_path / name
        src.write_bytes(raw)
        dialect = sniff(raw[:head] if head else raw, complete=head is None, max_columns=100)
        dest = tmp_path / (name + ".parquet")
        result = ingest_csv(src, dest, dialect, Limits(memory_limit="256MB", threads=1), tmp_path / "work")
        return dest, result

    return make


@pytest.fixture
def con():
    connection = connect(Limits(memory_limit="256MB", threads=1))
    yield connection
    connection.close()


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "result.parquet"
