"""dedup, unique and filter over ingested files, checked against pandas on the same data."""
import pandas as pd
import pytest

from analytics_app.engine.counting import value_counts
from analytics_app.engine.dedup import deduplicate
from analytics_app.engine.errors import EngineError
from analytics_app.engine.filtering import filter_rows
from analytics_app.engine.predicates import Condition

from .conftest import rows_of

CSV = (
    "id,team,score,city,joined\n"
    "1,A,10,Paris,2024-01-05\n"
    "2,B,7,Berlin,2024-02-10\n"
    "3,A,10,Paris,2024-01-05\n"
    "4,C,,Rome,\n"
    "5,B,7,Berlin,2024-02-10\n"
    "6,A,3,Paris,2024-03-01\n"
    "7,,3,Paris,2024-03-01\n"
)


def user_rows(table):
    return rows_of(table)


@pytest.fixture
def data(ingest):
    path, result = ingest(CSV)
    frame = user_rows(path)
    return path, result.columns, frame


@pytest.mark.parametrize("keep", ["first", "last"])
@pytest.mark.parametrize("key", [["team", "score", "city", "joined"], ["city"], ["score"]])
def test_dedup_matches_pandas(con, out_dir, data, key, keep):
    path, schema, frame = data
    result = deduplicate(con, path, key, keep, out_dir)
    expected = frame.drop_duplicates(subset=key, keep=keep).reset_index(drop=True)
    got = user_rows(result)
    assert result.row_count == len(expected)
    assert got["id"].tolist() == expected["id"].tolist()


def test_unique_counts_most_frequent_first_with_nulls(con, out, data):
    path, _, frame = data
    value_counts(con, path, "team", out)
    got = user_rows(out)
    assert got.to_dict("records")[:2] == [{"value": "A", "count": 3}, {"value": "B", "count": 2}]
    counts = dict(zip(got["value"].fillna("<null>"), got["count"]))
    assert counts == {"A": 3, "B": 2, "C": 1, "<null>": 1}
    assert counts["A"] == frame["team"].value_counts()["A"]


@pytest.mark.parametrize(
    "conditions,match,query",
    [
        ([Condition("score", "gt", "5")], "all", lambda f: f["score"] > 5),
        ([Condition("score", ">=", 7), Condition("city", "eq", "Paris")], "all", lambda f: (f["score"] >= 7) & (f["city"] == "Paris")),
        ([Condition("team", "==", "C"), Condition("city", "eq", "Berlin")], "any", lambda f: (f["team"] == "C") | (f["city"] == "Berlin")),
        ([Condition("city", "in", ["Rome", "Berlin"])], "all", lambda f: f["city"].isin(["Rome", "Berlin"])),
        ([Condition("city", "not_in", "Rome|Berlin")], "all", lambda f: ~f["city"].isin(["Rome", "Berlin"])),
        ([Condition("score", "between", [3, 7])], "all", lambda f: f["score"].between(3, 7)),
        ([Condition("score", "is_null")], "all", lambda f: f["score"].isna()),
        ([Condition("team", "ne", "A")], "all", lambda f: f["team"] != "A"),
        ([Condition("city", "contains", "ar")], "all", lambda f: f["city"].str.contains("ar")),
        ([Condition("city", "startswith", "Be")], "all", lambda f: f["city"].str.startswith("Be")),
        ([Condition("joined", "lt", "2024-02-01")], "all", lambda f: f["joined"] < pd.Timestamp("2024-02-01").date()),
    ],
)
def test_filter_matches_pandas(con, out_dir, data, conditions, match, query):
    path, schema, frame = data
    result = filter_rows(con, path, schema, conditions, match, out_dir)
    expected = frame[query(frame).fillna(False).astype(bool)]
    assert user_rows(result)["id"].tolist() == expected["id"].tolist()
    assert result.row_count == len(expected)


@pytest.mark.parametrize(
    "condition,message",
    [
        (Condition("nope", "eq", "1"), "Unknown column 'nope'"),
        (Condition("score", "like", "1"), "Unknown operator 'like'"),
        (Condition("score", "gt", "ten"), "is not a valid integer for column 'score'"),
        (Condition("joined", "gt", "yesterday"), "is not a valid date"),
        (Condition("score", "between", [1]), "needs a pair"),
        (Condition("score", "in", []), "non-empty list"),
    ],
)
def test_bad_conditions_are_named(con, out_dir, data, condition, message):
    path, schema, _ = data
    with pytest.raises(EngineError) as caught:
        filter_rows(con, path, schema, [condition], "all", out_dir)
    assert message in caught.value.message


def test_sql_in_values_and_column_names_is_data(con, out_dir, ingest):
    path, result = ingest('a"; DROP TABLE x; --,b\n1,x\n2,\'; DROP TABLE y; --\n')
    kept = filter_rows(con, path, result.columns, [Condition("b", "eq", "'; DROP TABLE y; --")], "all", out_dir)
    assert user_rows(kept).to_dict("records") == [{'a"; DROP TABLE x; --': 2, "b": "'; DROP TABLE y; --"}]


@pytest.mark.parametrize("method", ["spearman", "kendall"])
def test_rank_correlation_diagonal_is_one_or_undefined_as_pandas(con, ingest, method):
    from analytics_app.engine.correlation import correlate

    path, _ = ingest("a,b,c\n1,5,7\n2,,7\n3,4,7\n4,1,7\n")
    frame = rows_of(path)
    matrix = correlate(con, path, ["a", "b", "c"], method)
    expected = frame.corr(method=method)
    expected.loc["c", "c"] = float("nan")  # pandas writes 1 on Kendall's diagonal even for a constant column
    for x in "abc":
        for y in "abc":
            want = expected.loc[x, y]
            assert (matrix[x][y] is None) if pd.isna(want) else matrix[x][y] == pytest.approx(want), (x, y)


def test_an_unknown_column_names_the_columns_there_are_the_first_fifty_of_many():
    from analytics_app.engine.errors import unknown_column

    assert unknown_column("x", ["a", "b"]) == "Unknown column 'x'. Columns are: a, b."
    many = unknown_column("x", [f"c{i}" for i in range(120)], "sort column")
    assert many.startswith("Unknown sort column 'x'. Columns are: c0, c1,")
    assert many.endswith("c48, c49 (and 70 more).")
