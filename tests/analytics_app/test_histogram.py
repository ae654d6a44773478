"""histogram through the API: numpy's bins and counts, per group, its table and its PNG, and bad input."""
import csv
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

pytestmark = pytest.mark.django_db
ROWS = 5000


@pytest.fixture
def measures(ready_dataset):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"value": rng.normal(40, 12, ROWS).round(3), "site": rng.choice(["north", "south", "east"], ROWS),
                          "label": rng.choice(["a", "b"], ROWS)})
    frame.loc[::50, "value"] = np.nan
    return ready_dataset(frame.to_csv(index=False)), frame


def test_bins_match_numpy(measures, run_operation):
    file_id, frame = measures
    body = run_operation(file_id, "histogram", n=1000, column="value", bins=13)
    counts, edges = np.histogram(frame["value"].dropna(), bins=13)
    data = body["result"]["data"]
    assert [row["count"] for row in data] == counts.tolist()
    assert [row["bin_start"] for row in data] == pytest.approx(edges[:-1].tolist())
    assert [row["bin_end"] for row in data] == pytest.approx(edges[1:].tolist())
    assert body["result"]["columns"] == ["bin_start", "bin_end", "count"]
    assert body["result"]["value"]["bins"] == 13 and sum(counts) == ROWS - ROWS // 50


def test_a_width_per_group_matches_numpy_over_the_same_edges(measures, run_operation):
    file_id, frame = measures
    body = run_operation(file_id, "histogram", n=1000, column="value", width=5, group_by="site")
    edges = np.array(body["result"]["value"]["edges"])
    assert edges[0] == 5 * np.floor(frame["value"].min() / 5) and edges[-1] >= frame["value"].max()
    assert np.allclose(np.diff(edges), 5)
    for site, rows in pd.DataFrame(body["result"]["data"]).groupby("site"):
        counts, _ = np.histogram(frame.loc[frame.site == site, "value"].dropna(), bins=edges)
        assert rows["count"].tolist() == counts.tolist(), site
    assert sorted(set(row["site"] for row in body["result"]["data"])) == ["east", "north", "south"]


def test_the_table_downloads_as_csv_and_the_picture_as_png(client_a, measures, run_operation):
    file_id, _ = measures
    body = run_operation(file_id, "histogram", column="value", bins=8)
    assert body["result"]["file_link"].endswith("/download/")
    rows = list(csv.DictReader(io.StringIO(b"".join(client_a.get(body["result"]["file_link"]).streaming_content).decode())))
    assert len(rows) == 8 and list(rows[0]) == ["bin_start", "bin_end", "count"]
    png = client_a.get(f"/api/tasks/{body['task_id']}/download/?format=png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(b"".join(png.streaming_content)))
    assert image.size == (1000, 600) and len(image.convert("L").getcolors(maxcolors=1 << 16) or []) > 10


@pytest.mark.parametrize("params,field,text", [
    ({"column": "site"}, "column", "Column 'site' is string; a numeric column is needed."),
    ({"column": "value", "bins": 5, "width": 2}, "width", "Give bins or width, not both."),
    ({"column": "value", "bins": 0}, "bins", None),
    ({"column": "value", "group_by": "nope"}, "group_by", "Unknown column 'nope'"),
])
def test_bad_parameters_are_400_naming_the_field(client_a, measures, params, field, text):
    r = client_a.post("/api/perform-operation/", {"file_id": measures[0], "operation": "histogram", **params},
                      format="json")
    assert r.status_code == 400 and field in r.json()["details"], r.json()
    if text:
        assert text in r.json()["error"]


def test_a_width_that_makes_too_many_bins_fails_saying_so(measures, run_operation):
    for width in (0.001, 1e-300, 5e-324):  # the last two overflowed counting the bins: an "internal error"
        body = run_operation(measures[0], "histogram", column="value", width=width)
        assert body["status"] == "FAILURE"
        assert body["error"].startswith(f"Bins of width {width:g} make more than 1000 bins over ")
        assert body["error"].endswith("at most 1000 are allowed. Use a larger width, or bins.")
