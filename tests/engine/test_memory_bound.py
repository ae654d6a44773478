"""DuckDB stays within its memory limit by spilling: a dedup over more data than the limit completes exactly."""
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from analytics_app.engine.dedup import deduplicate
from analytics_app.engine.sql import Limits, connect
from analytics_app.engine.tables import write_query


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
        result = deduplicate(con, source, ["k", "pad"], ["k"], "first", tmp_path / "out.parquet")
    finally:
        con.close()
    assert result.row_count == 1_500_000
    keys = pq.read_table(tmp_path / "out.parquet", columns=["k"]).column("k").to_pylist()
    assert keys == list(range(1_500_000)), "first of each key, in the original order"
