"""The summary's exact distinct counts and quartiles from in-memory columns agree with pandas on values
that do and do not fit a bitmap grid, and with DuckDB's own path when a column is too big for memory."""
import numpy as np
import pandas as pd
import pytest

from analytics_app.engine import summary
from analytics_app.engine.summary import COUNTS_MAX, QUARTILES, _grid, _numeric_figures, _quartiles, summarize

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    "values,counted",
    [
        (RNG.integers(-50, 50, 10_000), True),
        (RNG.integers(0, 2**62, 1_000), False),                        # too wide: sorted
        (RNG.integers(0, 10**8, 1_000) * 1_000_000, False),            # whole seconds over three years, in µs
        (np.round(RNG.uniform(-1e4, 1e4, 10_000), 2), True),           # money
        (np.round(RNG.uniform(0, 1, 10_000), 6), True),
        (RNG.uniform(0, 1, 10_000), False),                            # full-precision floats
        (np.array([0.1, 0.2, 0.30000000000000004, 0.3]), False),       # not all on one decimal grid
        (np.array([-0.0, 0.0, 1.5]), True),
        (np.array([-0.0, 0.0, np.pi]), False),
        # More values than one chunk (summary.CHUNK): every chunk is checked and indexed.
        (np.append(np.round(RNG.uniform(-1e3, 1e3, 600_000), 2), 0.125), True),  # the last chunk needs 3 places
        (np.append(np.round(RNG.uniform(-1e4, 1e4, 600_000), 2), 0.125), False),  # 3 places: too wide
        (np.append(np.round(RNG.uniform(-1e4, 1e4, 600_000), 2), np.pi), False),
        (RNG.integers(3_000_000, 3_000_100, 600_000), True),            # non-negative, far from 0
        (RNG.integers(-10**6, 10**6, 600_000), True),
    ],
)
def test_distinct_and_quartiles_are_exact_counted_or_sorted(values, counted):
    assert (_grid(values) is not None) == counted
    got = _numeric_figures(values)
    assert got["distinct"] == len(pd.unique(values + 0.0 if values.dtype.kind == "f" else values))
    assert [got["p25"], got["p50"], got["p75"]] == np.quantile(values.astype(np.float64), QUARTILES).tolist()


def test_nothing_to_count_and_nan():
    assert _grid(np.array([], dtype=np.int64)) is None and _numeric_figures(np.array([]))["distinct"] == 0
    got = _numeric_figures(np.array([1.5, np.nan, 2.5]))
    assert got["distinct"] is None and np.isnan(got["p50"])  # DuckDB counts them (summarize), as before


@pytest.mark.parametrize(
    "values",
    [
        RNG.integers(-50, 50, 10_001),
        RNG.integers(0, 1_000_000, 7),
        np.round(RNG.uniform(-1e4, 1e4, 10_000), 2),                   # money
        np.round(RNG.uniform(0, 1, 9_999), 3),
        np.round(RNG.normal(100, 15, 4), 1),
        np.array([-0.0, 0.0, 1.5, 1.5, 2.25]),
        np.array([42]),
    ],
)
def test_quartiles_from_counts_are_numpys_to_the_last_bit(values):
    grid = _grid(values)
    assert grid is not None and grid.size <= COUNTS_MAX
    running = np.cumsum(np.bincount(grid.indexes))
    got = _quartiles(lambda k: grid.value_at(np.searchsorted(running, k, side="right")), len(values))
    expected = np.quantile(values.astype(np.float64), QUARTILES)
    assert got.tolist() == expected.tolist()


CSV = "i,x,t,d,s\n" + "\n".join(
    f"{i % 97},{round((i * 7919) % 1000 / 8, 3) if i % 5 else ''},2024-01-{1 + i % 28:02d} 10:{i % 60:02d}:00,"
    f"2023-{1 + i % 12:02d}-01,s{i % 13}"
    for i in range(5_000)
) + "\n"


def both_paths(con, table, schema: list[dict], names: list[str], monkeypatch) -> tuple[dict, dict]:
    """The summary's columns from the in-memory path, then from DuckDB's (IN_MEMORY_ROWS = 0)."""
    fast = summarize(con, table, schema, names)["columns"]
    monkeypatch.setattr(summary, "IN_MEMORY_ROWS", 0)
    return fast, summarize(con, table, schema, names)["columns"]


def test_in_memory_and_duckdb_paths_give_pandas_figures(con, ingest, monkeypatch):
    table, result = ingest(CSV)
    frame = pd.read_csv(pd.io.common.StringIO(CSV), parse_dates=["t", "d"])
    names = [c["name"] for c in result.columns]
    fast, slow = both_paths(con, table, result.columns, names, monkeypatch)
    for name in names:
        for field in ("count", "distinct", "min", "max", "p25", "p50", "p75"):
            assert fast[name].get(field) == slow[name].get(field), (name, field)
    for name in ("i", "x"):
        col = fast[name]
        assert col["distinct"] == frame[name].nunique()
        assert [col["p25"], col["p50"], col["p75"]] == pytest.approx(frame[name].quantile([0.25, 0.5, 0.75]).tolist())
        assert col["std"] == pytest.approx(frame[name].std())
    assert fast["t"]["distinct"] == frame["t"].nunique()
    assert fast["d"]["distinct"] == frame["d"].nunique() == 12
    assert fast["x"]["nulls"] == frame["x"].isna().sum()


@pytest.mark.parametrize(
    "values",
    [
        RNG.integers(0, 700_000, 700_000),                              # non-negative: their own indexes
        RNG.integers(-10**6, 10**6, 700_000),
        np.round(RNG.normal(100, 15, 700_000), 2),
        RNG.uniform(0, 1, 700_000),                                     # on no grid: sorted for the quartiles
    ],
)
def test_numeric_figures_over_many_chunks_are_pandas_figures(values):
    got = _numeric_figures(values)
    frame = pd.Series(values)
    assert got["count"] == len(values) and got["distinct"] in (frame.nunique(), None)
    assert (got["min"], got["max"]) == (frame.min(), frame.max())
    assert got["mean"] == pytest.approx(frame.mean(), rel=1e-12) and got["std"] == pytest.approx(frame.std(), rel=1e-12)
    assert [got["p25"], got["p50"], got["p75"]] == frame.quantile([0.25, 0.5, 0.75]).tolist()


TIMES_CSV = "ms_day,ms_years,us_minute,none\n" + "\n".join(
    f"2024-03-01 {i % 24:02d}:{i * 7 % 60:02d}:{i * 13 % 60:02d}.{i * 37 % 1000:03d},"  # a ms step over a day
    f"{2001 + i % 20}-0{1 + i % 9}-11 08:00:00.{i * 11 % 1000:03d},"                  # ms over 20 years: too wide
    f"2024-03-01 12:{i % 2:02d}:{i * 17 % 60:02d}.{i * 7919 % 1_000_000:06d},"         # µs within two minutes
    for i in range(3_000)
) + "\n"


def test_times_distinct_on_their_widest_step_or_counted_by_duckdb(con, ingest, monkeypatch):
    table, result = ingest(TIMES_CSV)
    assert [c["type"] for c in result.columns] == ["datetime", "datetime", "datetime", "string"]
    frame = pd.read_csv(pd.io.common.StringIO(TIMES_CSV), parse_dates=["ms_day", "ms_years", "us_minute"])
    names = [c["name"] for c in result.columns][:3]
    fast, slow = both_paths(con, table, result.columns, names, monkeypatch)
    for name in names:
        assert fast[name] == slow[name]
        assert fast[name]["distinct"] == frame[name].nunique() > 2_000, name
        assert fast[name]["count"] == 3_000


def test_nanosecond_times_are_counted_in_nanoseconds(con, tmp_path, monkeypatch):
    """A Parquet upload may keep times in nanoseconds: ten values a nanosecond apart are ten, as DuckDB counts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analytics_app.engine.parquet_upload import ingest_parquet
    from analytics_app.engine.tables import Table, read_columns

    first = 1_700_000_000_000_000_000
    pq.write_table(pa.table({"t": pa.array([first + i for i in range(10)] + [None], pa.timestamp("ns"))}),
                   tmp_path / "up.parquet")
    ingest_parquet(con, tmp_path / "up.parquet", tmp_path / "t.parquet", ("t",))
    table, schema = Table(tmp_path / "t.parquet"), read_columns(tmp_path / "t.parquet")
    fast, slow = both_paths(con, table, schema, ["t"], monkeypatch)
    assert fast["t"] == slow["t"]
    assert (fast["t"]["count"], fast["t"]["nulls"], fast["t"]["distinct"]) == (10, 1, 10)
