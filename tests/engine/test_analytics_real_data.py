"""summary, statistics, correlation, trend and top on real public data, each checked against pandas.

The files come from the vega-datasets package: Seattle weather (slash dates), stock prices ("Jan 1 2000"
dates), US airports (text with gaps) and the 1992 LA riots deaths (missing ages and dates).
"""
import io
import math
from pathlib import Path

import pandas as pd
import pytest
import vega_datasets

from analytics_app.engine.correlation import correlate
from analytics_app.engine.statistics import group_statistics
from analytics_app.engine.summary import summarize
from analytics_app.engine.top import top_groups
from analytics_app.engine.trend import trend_series

from .conftest import rows_of

DATA = Path(vega_datasets.__file__).parent / "_data"


def load(ingest, name: str):
    raw = (DATA / name).read_bytes()
    path, result = ingest(raw, name=name)
    return path, result.columns


def table(path) -> pd.DataFrame:
    return rows_of(path)


def close(a, b, tol=1e-9) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)


@pytest.fixture
def weather(ingest):
    path, schema = load(ingest, "seattle-weather.csv")
    frame = pd.read_csv(DATA / "seattle-weather.csv")
    frame["date"] = pd.to_datetime(frame["date"], format="%Y/%m/%d")
    return path, schema, frame


def test_real_files_get_the_right_types(ingest):
    assert {c["name"]: c["type"] for c in load(ingest, "seattle-weather.csv")[1]} == {
        "date": "date", "precipitation": "float", "temp_max": "float", "temp_min": "float", "wind": "float", "weather": "string"}
    assert {c["name"]: c["type"] for c in load(ingest, "stocks.csv")[1]} == {"symbol": "string", "date": "date", "price": "float"}
    riots = {c["name"]: c["type"] for c in load(ingest, "la-riots.csv")[1]}
    assert riots["age"] == "integer" and riots["death_date"] == "date" and riots["latitude"] == "float"


def test_summary_matches_pandas(con, weather):
    path, schema, frame = weather
    profile = summarize(con, path, schema, [c["name"] for c in schema])
    assert profile["row_count"] == len(frame)
    for name in ["precipitation", "temp_max", "temp_min", "wind"]:
        got, s = profile["columns"][name], frame[name]
        assert got["count"] == s.count() and got["nulls"] == s.isna().sum() and got["distinct"] == s.nunique()
        for field, expected in [("mean", s.mean()), ("std", s.std()), ("min", s.min()), ("p25", s.quantile(0.25)),
                                ("p50", s.median()), ("p75", s.quantile(0.75)), ("max", s.max())]:
            assert close(got[field], expected), (name, field, got[field], expected)
    top = profile["columns"]["weather"]["top"]
    assert {t["value"]: t["count"] for t in top} == frame["weather"].value_counts().head(5).to_dict()
    assert profile["columns"]["date"]["min"] == "2012-01-01" and profile["columns"]["date"]["max"] == "2015-12-31"


def test_summary_with_gaps_matches_pandas(con, ingest):
    path, schema = load(ingest, "la-riots.csv")
    frame = pd.read_csv(DATA / "la-riots.csv")
    profile = summarize(con, path, schema, ["age", "neighborhood"])
    age = profile["columns"]["age"]
    assert age["nulls"] == frame["age"].isna().sum() > 0
    assert close(age["mean"], frame["age"].mean()) and close(age["std"], frame["age"].std())
    assert close(age["p75"], frame["age"].quantile(0.75))
    assert profile["columns"]["neighborhood"]["nulls"] == frame["neighborhood"].isna().sum()


@pytest.mark.parametrize("group", [None, "rain"])
def test_grouped_statistics_match_pandas(con, out, weather, group):
    path, _, frame = weather
    group_statistics(con, path, ["weather"], ["temp_max", "precipitation"], [group] if group else None, out)
    got = table(out)
    groups = sorted(frame["weather"].unique()) if group is None else [group]
    assert got["weather"].tolist() == [g for g in groups for _ in range(2)]
    assert got["column"].tolist() == ["temp_max", "precipitation"] * len(groups)
    for _, row in got.iterrows():
        s = frame.loc[frame["weather"] == row["weather"], row["column"]]
        assert row["count"] == s.count()
        for field, expected in [("mean", s.mean()), ("median", s.median()), ("mode", s.mode().iloc[0]),
                                ("min", s.min()), ("max", s.max()), ("std", s.std())]:
            assert close(row[field], expected), (row["weather"], row["column"], field)


def test_statistics_skip_missing_values_as_pandas_does(con, out, ingest):
    path, _ = load(ingest, "la-riots.csv")
    frame = pd.read_csv(DATA / "la-riots.csv")
    group_statistics(con, path, ["gender"], ["age"], None, out)
    got = table(out).set_index("gender")
    expected = frame.groupby("gender")["age"]
    for gender, s in expected:
        assert got.loc[gender, "count"] == s.count()
        assert close(got.loc[gender, "mean"], s.mean()) and close(got.loc[gender, "std"], s.std())
        assert close(got.loc[gender, "median"], s.median())


@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall"])
def test_correlation_matches_pandas(con, weather, method):
    path, _, frame = weather
    columns = ["precipitation", "temp_max", "temp_min", "wind"]
    matrix = correlate(con, path, columns, method)
    expected = frame[columns].corr(method=method)
    for a in columns:
        for b in columns:
            assert close(matrix[a][b], expected.loc[a, b], tol=1e-9), (method, a, b)


def test_correlation_with_gaps_is_pairwise_and_nan_is_null(con, ingest):
    path, _ = load(ingest, "la-riots.csv")
    frame = pd.read_csv(DATA / "la-riots.csv")
    matrix = correlate(con, path, ["age", "latitude", "longitude"], "spearman")
    expected = frame[["age", "latitude", "longitude"]].corr(method="spearman")
    assert close(matrix["age"]["latitude"], expected.loc["age", "latitude"])
    constant = correlate(con, path, ["age", "age"], "pearson")
    assert set(constant) == {"age"}


@pytest.mark.parametrize("freq,period", [("D", "D"), ("W", "W-SUN"), ("M", "M"), ("Q", "Q"), ("Y", "Y")])
@pytest.mark.parametrize("agg", ["sum", "mean", "median", "max", "count"])
def test_trend_matches_pandas(con, out, weather, freq, period, agg):
    path, _, frame = weather
    trend_series(con, path, "date", "precipitation", freq, agg, None, out)
    got = table(out)
    grouped = frame.groupby(frame["date"].dt.to_period(period))["precipitation"].agg(agg)
    assert [d.isoformat() for d in got["date"]] == [p.start_time.date().isoformat() for p in grouped.index]
    assert all(close(a, b) for a, b in zip(got["value"], grouped.values))


def test_trend_per_group_on_month_name_dates(con, out, ingest):
    path, _ = load(ingest, "stocks.csv")
    frame = pd.read_csv(DATA / "stocks.csv")
    frame["date"] = pd.to_datetime(frame["date"], format="%b %d %Y")
    trend_series(con, path, "date", "price", "Y", "mean", "symbol", out)
    got = table(out)
    expected = frame.groupby([frame["date"].dt.to_period("Y"), "symbol"])["price"].mean()
    assert len(got) == len(expected)
    assert got["date"].tolist() == sorted(got["date"].tolist())
    for _, row in got.iterrows():
        assert close(row["value"], expected.loc[(pd.Period(row["date"], "Y"), row["symbol"])])


@pytest.mark.parametrize("agg,order", [("sum", "desc"), ("mean", "asc"), ("count", "desc")])
def test_top_matches_pandas(con, out, ingest, agg, order):
    path, _ = load(ingest, "airports.csv")
    frame = pd.read_csv(DATA / "airports.csv")
    value = None if agg == "count" else "latitude"
    top_groups(con, path, "state", value, agg, 5, order, out)
    got = table(out)
    series = frame.groupby("state")["latitude"].agg("size" if agg == "count" else agg)
    ranked = sorted(series.items(), key=lambda kv: ((-kv[1] if order == "desc" else kv[1]), kv[0]))[:5]
    assert got["state"].tolist() == [k for k, _ in ranked]
    assert all(close(a, b) for a, b in zip(got["value"], [v for _, v in ranked]))


def test_the_mode_is_the_smallest_most_frequent_value_and_a_group_of_distinct_values_has_its_minimum(con, out, ingest):
    text = ("g,x,n\n"
            "tie,5.5,1\ntie,2.25,1\ntie,5.5,2\ntie,2.25,2\ntie,9,3\n"  # 2.25 and 5.5 twice each: the smaller
            "distinct,7.5,4\ndistinct,3.25,5\ndistinct,8,6\n"       # every value once: the smallest
            "one,4,7\n"
            "empty,,\nempty,,\n"                                    # no value at all
            ",1.5,8\n,1.5,8\n,0.5,9\n")                             # the empty group
    path, _ = ingest(text)
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    group_statistics(con, path, ["g"], ["x", "n"], None, out)
    got = table(out)
    modes = {(row["g"], row["column"]): row["mode"] for _, row in got.iterrows()}
    for (g, column), mode in modes.items():
        s = frame.loc[frame["g"].isna() if g is None or g != g else frame["g"] == g, column].dropna()
        expected = s.mode().iloc[0] if len(s) else None
        assert (mode is None or mode != mode) if expected is None else mode == expected, (g, column, mode, expected)
    assert modes[("tie", "x")] == 2.25 and modes[("distinct", "x")] == 3.25 and modes[("distinct", "n")] == 4
    assert got.loc[got["g"] == "empty", "count"].tolist() == [0, 0]
