"""pivot through the API: pandas.pivot_table's cells for every aggregate, empty combinations, the column cap."""
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.django_db
ROWS = 4000


@pytest.fixture
def sales(ready_dataset):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "region": rng.choice(["east", "west", "north"], ROWS), "year": rng.choice([2022, 2023, 2024], ROWS),
        "product": rng.choice(["tea", "coffee", "cocoa", "mate"], ROWS), "amount": rng.normal(100, 30, ROWS).round(2),
        "units": rng.integers(1, 9, ROWS), "order": np.arange(ROWS),
    })
    frame = frame[~((frame["region"] == "north") & (frame["product"] == "mate"))]  # a combination with no rows
    return ready_dataset(frame.to_csv(index=False)), frame


@pytest.mark.parametrize("agg", ["sum", "count", "mean", "min", "max"])
def test_cells_match_pandas_pivot_table(sales, run_operation, agg):
    file_id, frame = sales
    body = run_operation(file_id, "pivot", n=1000, rows=["region", "year"], columns="product", value="amount", agg=agg)
    assert body["status"] == "SUCCESS", body
    got = pd.DataFrame(body["result"]["data"])
    expected = frame.pivot_table(index=["region", "year"], columns="product", values="amount", aggfunc=agg)
    assert body["result"]["columns"] == ["region", "year", *expected.columns]  # the values in order
    assert body["result"]["value"]["values"] == ["cocoa", "coffee", "mate", "tea"]
    expected = expected.reset_index()
    if agg == "count":
        expected = expected.fillna(0)  # a count of no rows is 0
    assert got[["region", "year"]].values.tolist() == expected[["region", "year"]].values.tolist()
    for product in ["cocoa", "coffee", "mate", "tea"]:
        assert got[product].tolist() == pytest.approx(expected[product].tolist(), nan_ok=True), product
    north = [row["mate"] for row in body["result"]["data"] if row["region"] == "north"]
    assert north == ([0, 0, 0] if agg == "count" else [None, None, None]), "no rows: empty (a count: 0)"


def test_count_without_a_value_counts_rows(sales, run_operation):
    file_id, frame = sales
    body = run_operation(file_id, "pivot", n=1000, rows="region", columns="year", agg="count")
    expected = frame.pivot_table(index="region", columns="year", values="order", aggfunc="count")
    assert body["result"]["columns"] == ["region", "2022", "2023", "2024"]
    got = {row["region"]: [row["2022"], row["2023"], row["2024"]] for row in body["result"]["data"]}
    assert got == {region: values.tolist() for region, values in expected.iterrows()}


def test_more_distinct_values_than_the_cap_is_a_400_naming_it(client_a, sales):
    r = client_a.post("/api/perform-operation/", {"file_id": sales[0], "operation": "pivot", "rows": "region",
                                                  "columns": "order", "value": "amount"}, format="json")
    assert r.status_code == 400
    assert r.json()["error"] == (f"Column 'order' has {len(sales[1])} distinct values; a pivot makes at most 200 "
                                 "columns. Pivot on a column with fewer values, or filter the rows first.")
    assert "columns" in r.json()["details"]


@pytest.mark.parametrize("params,field", [
    ({"rows": "region", "columns": "region", "value": "amount"}, "columns"),
    ({"rows": "region", "columns": "year", "value": "product"}, "value"),
    ({"rows": "region", "columns": "year"}, "value"),
    ({"rows": "region", "columns": "year", "value": "amount", "agg": "median"}, "agg"),
    ({"rows": "ghost", "columns": "year", "value": "amount"}, "rows"),
])
def test_bad_parameters_are_400_naming_the_field(client_a, sales, params, field):
    r = client_a.post("/api/perform-operation/", {"file_id": sales[0], "operation": "pivot", **params}, format="json")
    assert r.status_code == 400 and field in r.json()["details"], r.json()


def test_a_pivot_job_over_too_many_values_fails_naming_the_count(tmp_path):
    """The job checks the width too (the data may not be what the submit saw: a chained result, say)."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analytics_app.engine.errors import EngineError
    from analytics_app.engine.pivot import pivot
    from analytics_app.engine.tables import Table

    pq.write_table(pa.table({"g": ["a"] * 250 + [None], "k": list(range(250)) + [None], "v": [1.0] * 251}),
                   tmp_path / "t.parquet")
    with pytest.raises(EngineError) as raised:
        pivot(duckdb.connect(), Table(tmp_path / "t.parquet"), ["g"], "k", "v", "sum", tmp_path / "out.parquet")
    assert raised.value.message.startswith("Column 'k' has 251 distinct values; a pivot makes at most 200 columns.")


def test_the_width_at_submit_comes_from_the_saved_profile(client_a, sales):
    """A profiled dataset's distinct counts answer the submit's check without reading the data: a profile that
    says the column is too wide is believed (and the data's own count is used without one)."""
    import json

    from csv_app.models import Dataset
    from csv_app.storage import local_path

    profile_file = local_path(Dataset.objects.get(id=sales[0]).parquet_file).with_name("profile.json")
    saved = json.loads(profile_file.read_text())
    saved["columns"]["year"].update(distinct=400, nulls=0)
    profile_file.write_text(json.dumps(saved))
    body = {"file_id": sales[0], "operation": "pivot", "rows": "region", "columns": "year", "value": "amount"}
    r = client_a.post("/api/perform-operation/", body, format="json")
    assert r.status_code == 400 and r.json()["error"].startswith("Column 'year' has 400 distinct values;")
    Dataset.objects.filter(id=sales[0]).update(profiled=False)
    assert client_a.post("/api/perform-operation/", body, format="json").status_code == 202


@pytest.mark.parametrize("agg", ["sum", "count"])
def test_cells_land_under_their_own_value_with_empty_and_nan_values_and_internal_looking_names(tmp_path, agg):
    """Each cell is under the column of its own value, in the values' order (NaN after numbers, the empty value
    last), an empty row key last, a missing combination empty (0 for count), whatever the columns are called."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analytics_app.engine.pivot import pivot
    from analytics_app.engine.tables import Table

    nan = float("nan")
    pq.write_table(pa.table({
        "pivot at": ["a", "a", "b", None, "a", "b", None, "a"],
        "k": [2.5, None, 1.5, 2.5, nan, 2.5, None, 2.5],
        "pivot cells": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
    }), tmp_path / "t.parquet")
    result = pivot(duckdb.connect(), Table(tmp_path / "t.parquet"), ["pivot at"], "k", "pivot cells", agg,
                   tmp_path / "out.parquet")
    assert result.value["values"] == ["1.5", "2.5", "NaN", "(empty)"]
    got = [{k: v for k, v in row.items() if k != "__ravid_row"}
           for row in pq.read_table(tmp_path / "out.parquet").to_pylist()]
    if agg == "sum":
        assert got == [
            {"pivot at": "a", "1.5": None, "2.5": 129.0, "NaN": 16.0, "(empty)": 2.0},
            {"pivot at": "b", "1.5": 4.0, "2.5": 32.0, "NaN": None, "(empty)": None},
            {"pivot at": None, "1.5": None, "2.5": 8.0, "NaN": None, "(empty)": 64.0},
        ]
    else:
        assert got == [
            {"pivot at": "a", "1.5": 0, "2.5": 2, "NaN": 1, "(empty)": 1},
            {"pivot at": "b", "1.5": 1, "2.5": 1, "NaN": 0, "(empty)": 0},
            {"pivot at": None, "1.5": 0, "2.5": 1, "NaN": 0, "(empty)": 1},
        ]
