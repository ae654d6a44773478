"""DuckDB stays within its memory limit by spilling: a dedup over more data than the limit completes exactly."""

import duckdb

from analytics_app.engine.dedup import deduplicate
from analytics_app.engine.sql import Limits, connect
from analytics_app.engine.tables import Table
from analytics_app.engine.writer import write_query

from .conftest import rows_of


def test_dedup_larger_than_the_memory_limit_spills_and_completes(tmp_path):
    source = tmp_path / "wide.parquet"
    maker = duckdb.connect()
    write_query(maker, "SELECT i % 1500000 AS k, md5(CAST(i AS VARCHAR)) || md5(CAST(i * 7 AS VARCHAR)) AS pad "
                       "FROM range(3000000) t(i)", [], source)
    maker.close()
    assert source.stat().st_size > 64 * 2**20, "the input is bigger than the limit"
    spill = tmp_path / "spill"
    con = connect(Limits(memory_limit="64MB", threads=1, temp_dir=str(spill)))
    try:
        result = deduplicate(con, Table(source), ["k"], "first", tmp_path / "out")
    finally:
        con.close()
    assert result.row_count == 1_500_000
    keys = rows_of(result)["k"].tolist()
    assert keys == list(range(1_500_000)), "first of each key, in the original order"


def test_work_that_cannot_fit_its_memory_limit_fails_with_a_sentence_naming_the_bound(tmp_path):
    """Per-group medians and modes over millions of groups cannot spill: the job fails clearly, not internally."""
    import pytest

    from analytics_app.engine.errors import OutOfMemory
    from analytics_app.engine.execution import run_with_progress

    con = connect(Limits(memory_limit="32MB", threads=1, temp_dir=str(tmp_path / "spill")))
    try:
        with pytest.raises(OutOfMemory) as caught:
            run_with_progress(con, lambda c: c.execute(
                "SELECT j % 1000000 AS g, median(j), mode(j) FROM range(3000000) t(j) GROUP BY g").fetchall(),
                "computing")
        # The connection is left usable for what follows (a relation query, as the writer makes, included).
        assert con.sql("SELECT 42").fetchall() == [(42,)]
    finally:
        con.close()
    assert caught.value.message.startswith("The job needed more memory than one job may use (")
    assert "DUCKDB_MEMORY_LIMIT" in caught.value.message and "SELECT" not in caught.value.message
