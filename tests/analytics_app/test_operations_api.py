"""The analytics catalogue through the HTTP API: results, charts, bad input, chaining and sharing."""
import io
import json

import pytest
from PIL import Image

from csv_app.models import Task
from tests.conftest import run_pending

pytestmark = pytest.mark.django_db

SALES = (
    "day,country,revenue,units,note\n"
    "2024-01-01,FR,100.5,3,a\n2024-01-02,DE,200,5,b\n2024-01-08,FR,50,1,\n"
    "2024-02-01,IT,300,7,c\n2024-02-15,DE,25.5,2,d\n2024-03-01,FR,80,4,e\n"
)


@pytest.fixture
def sales(ready_dataset):
    return ready_dataset(SALES)


def submit(client, **body):
    return client.post("/api/perform-operation/", body, format="json")


def test_summary_result_has_a_value_and_a_table(sales, run_operation):
    body = run_operation(sales, "summary", columns=["revenue", "country", "day"])
    value = body["result"]["value"]
    assert value["revenue"]["count"] == 6 and value["revenue"]["min"] == 25.5 and value["revenue"]["max"] == 300
    assert value["country"]["top"][0] == {"value": "FR", "count": 3}
    assert value["day"] == {"type": "date", "count": 6, "distinct": 6, "min": "2024-01-01", "max": "2024-03-01", "nulls": 0}
    assert [row["column"] for row in body["result"]["data"]] == ["revenue", "country", "day"]


def test_a_dataset_is_profiled_when_ingested_and_summary_answers_from_it(settings, ready_dataset, run_operation):
    from csv_app.models import Dataset
    from csv_app.storage import local_path

    file_id = ready_dataset(SALES)
    profile_file = local_path(Dataset.objects.get(id=file_id).parquet_file).with_name("profile.json")
    assert profile_file.exists()
    saved = run_operation(file_id, "summary")["result"]
    assert saved["value"]["revenue"]["p50"] == 90.25 and saved["value"]["units"]["distinct"] == 6
    marked = json.loads(profile_file.read_text())
    marked["columns"]["units"]["distinct"] = -1
    profile_file.write_text(json.dumps(marked))
    assert run_operation(file_id, "summary", columns=["units"])["result"]["value"]["units"]["distinct"] == -1, \
        "answered from the saved profile, without reading the data"
    profile_file.unlink()
    computed = run_operation(file_id, "summary", columns=["revenue", "units"])["result"]
    assert computed["value"] == {k: saved["value"][k] for k in ("revenue", "units")}
    assert computed["data"] == [row for row in saved["data"] if row["column"] in ("revenue", "units")]
    settings.PROFILE_ON_INGEST = False
    plain = ready_dataset(SALES, name="plain.csv")
    assert not local_path(Dataset.objects.get(id=plain).parquet_file).with_name("profile.json").exists()
    assert run_operation(plain, "summary")["result"]["value"] == saved["value"]


def test_statistics_for_one_group(sales, run_operation):
    body = run_operation(sales, "statistics", group_by="country", columns=["revenue"], group="DE")
    assert body["result"]["data"] == [{
        "country": "DE", "column": "revenue", "count": 2, "mean": 112.75, "median": 112.75, "mode": 25.5,
        "min": 25.5, "max": 200.0, "std": pytest.approx(123.39, abs=0.01),
    }]


def test_correlation_matrix(sales, run_operation):
    body = run_operation(sales, "correlation", method="spearman")
    matrix = body["result"]["value"]
    assert set(matrix) == {"revenue", "units"}
    assert matrix["revenue"]["revenue"] == pytest.approx(1.0)
    assert matrix["revenue"]["units"] == pytest.approx(0.885714, abs=1e-6)  # pandas .corr("spearman")


def test_trend_monthly_sum_by_country(sales, run_operation):
    body = run_operation(sales, "trend", date="day", value="revenue", freq="M", agg="sum", group_by="country")
    assert body["result"]["data"] == [
        {"date": "2024-01-01", "country": "DE", "value": 200.0},
        {"date": "2024-01-01", "country": "FR", "value": 150.5},
        {"date": "2024-02-01", "country": "DE", "value": 25.5},
        {"date": "2024-02-01", "country": "IT", "value": 300.0},
        {"date": "2024-03-01", "country": "FR", "value": 80.0},
    ]


def test_weekly_trend_is_labelled_by_monday(sales, run_operation):
    body = run_operation(sales, "trend", date="day", freq="W", agg="count")
    assert [r["date"] for r in body["result"]["data"]] == ["2024-01-01", "2024-01-08", "2024-01-29", "2024-02-12", "2024-02-26"]


def test_top_countries_by_revenue(sales, run_operation):
    body = run_operation(sales, "top", by="country", value="revenue", agg="sum", limit=2)
    assert body["result"]["data"] == [{"country": "IT", "value": 300.0}, {"country": "FR", "value": 230.5}]


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "line", "x": "day", "y": "revenue", "title": "Revenue"},
        {"kind": "bar", "x": "country", "y": "revenue", "agg": "sum"},
        {"kind": "scatter", "x": "units", "y": "revenue"},
        {"kind": "histogram", "x": "revenue", "bins": 5},
    ],
)
def test_charts_download_as_png(client_a, sales, run_operation, params):
    body = run_operation(sales, "chart", **params)
    assert body["status"] == "SUCCESS", body
    assert body["result"]["file_link"].endswith("?format=png")
    r = client_a.get(f"/api/tasks/{body['task_id']}/download/?format=png")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(b"".join(r.streaming_content)))
    assert image.size == (1000, 600)
    assert len(image.convert("L").getcolors(maxcolors=1 << 16) or []) > 10, "the chart is not blank"
    assert client_a.get(f"/api/tasks/{body['task_id']}/download/?format=csv").status_code == 400


@pytest.mark.parametrize(
    "body,field,text",
    [
        ({"operation": "trend", "date": "country", "value": "revenue"}, "date", "Column 'country' is string"),
        ({"operation": "trend", "date": "day", "value": "note"}, "value", "Column 'note' is string"),
        ({"operation": "trend", "date": "day", "freq": "H"}, "freq", None),
        ({"operation": "trend", "date": "day", "agg": "sum"}, "value", "A value column is needed"),
        ({"operation": "correlation", "columns": ["revenue"]}, "columns", "at least two numeric columns"),
        ({"operation": "correlation", "columns": ["revenue", "note"]}, "columns", "Column 'note' is string"),
        ({"operation": "correlation", "method": "magic"}, "method", None),
        ({"operation": "top", "by": "country", "value": "revenue", "limit": 0}, "limit", None),
        ({"operation": "top", "by": "country", "value": "revenue", "limit": "ten"}, "limit", None),
        ({"operation": "top", "by": "ghost"}, "by", "Unknown column 'ghost'"),
        ({"operation": "statistics", "group_by": "country", "columns": ["note"]}, "columns", "is string"),
        ({"operation": "statistics", "group_by": ["country", "day"], "group": "FR"}, "group", "one value per group_by column"),
        ({"operation": "chart", "kind": "pie", "x": "day"}, "kind", None),
        ({"operation": "chart", "kind": "line", "x": "day"}, "y", "needs y"),
        ({"operation": "chart", "kind": "histogram", "x": "country"}, "x", "is string"),
        ({"operation": "summary", "columns": 5}, "columns", None),
    ],
)
def test_bad_parameters_are_400_at_submit(client_a, sales, body, field, text):
    r = submit(client_a, file_id=sales, **body)
    assert r.status_code == 400, r.content
    assert field in r.json()["details"], r.json()
    if text:
        assert text in r.json()["error"]


def test_filter_result_feeds_a_trend_by_task_id(client_a, sales, run_operation):
    filtered = run_operation(sales, "filter", filters=[{"column": "country", "operator": "eq", "value": "FR"}])
    r = submit(client_a, task_id=filtered["task_id"], operation="trend", date="day", value="revenue", freq="M")
    assert r.status_code == 202, r.content
    run_pending(r.json()["task_id"])
    body = client_a.get(f"/api/tasks/{r.json()['task_id']}/").json()
    assert body["source_task_id"] == filtered["task_id"]
    assert body["result"]["data"] == [{"date": "2024-01-01", "value": 150.5}, {"date": "2024-03-01", "value": 80.0}]


def test_a_chained_result_outlives_the_result_it_was_computed_from(client_a, sales, run_operation):
    deduped = run_operation(sales, "dedup", columns=["country"])
    r = submit(client_a, task_id=deduped["task_id"], operation="filter",
               filters=[{"column": "country", "operator": "ne", "value": "DE"}])
    assert r.status_code == 202, r.content
    run_pending(r.json()["task_id"])
    chained = r.json()["task_id"]
    before = client_a.get(f"/api/tasks/{chained}/rows?page_size=10").json()["items"]
    assert client_a.delete(f"/api/tasks/{deduped['task_id']}/").status_code == 204
    assert client_a.get(f"/api/tasks/{chained}/rows?page_size=10").json()["items"] == before
    assert sorted(row["country"] for row in before) == ["FR", "IT"]
    download = client_a.get(f"/api/tasks/{chained}/download/?format=csv")
    assert download.status_code == 200
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert len(lines) == 3 and lines[0] == '"day","country","revenue","units","note"'


def test_save_as_dataset_then_operate(client_a, sales, run_operation):
    filtered = run_operation(sales, "filter", filters=[{"column": "revenue", "operator": "gt", "value": 90}])
    r = client_a.post(f"/api/tasks/{filtered['task_id']}/save-as-dataset", {"name": "big sales"}, format="json")
    assert r.status_code == 201 and r.json()["dataset"]["status"] == "PENDING"
    assert run_pending(r.json()["task_id"]) == "SUCCESS"
    dataset = client_a.get(f"/api/datasets/{r.json()['file_id']}/").json()
    assert dataset["status"] == "READY" and dataset["row_count"] == 3 and dataset["name"] == "big sales"
    assert client_a.get(f"/api/tasks/{r.json()['task_id']}/").json()["operation"] == "save"
    body = run_operation(r.json()["file_id"], "top", by="country", value="revenue")
    assert body["result"]["data"] == [{"country": "IT", "value": 300.0}, {"country": "DE", "value": 200.0}, {"country": "FR", "value": 100.5}]
    chart = run_operation(sales, "chart", kind="histogram", x="units")
    r = client_a.post(f"/api/tasks/{chart['task_id']}/save-as-dataset", {}, format="json")
    assert r.status_code == 409


def test_a_shared_task_result_can_be_read_but_not_cancelled_or_deleted(client_a, client_b, other_user, sales, run_operation):
    done = run_operation(sales, "unique", column="country")
    task_id = done["task_id"]
    assert client_b.get(f"/api/tasks/{task_id}/").status_code == 404
    r = client_a.post(f"/api/tasks/{task_id}/share", {"user": other_user.username}, format="json")
    assert r.status_code == 201
    assert client_b.get(f"/api/tasks/{task_id}/").json()["result"]["data"][0] == {"value": "FR", "count": 3}
    assert client_b.get(f"/api/tasks/{task_id}/download/?format=csv").status_code == 200
    assert client_b.get(f"/api/tasks/{task_id}/rows").status_code == 200
    assert client_b.delete(f"/api/tasks/{task_id}/").status_code == 403
    assert client_b.post(f"/api/tasks/{task_id}/share", {"user": "x"}, format="json").status_code == 403
    r = client_b.post("/api/perform-operation/", {"task_id": task_id, "operation": "filter",
                                                  "filters": [{"column": "count", "operator": "gt", "value": 1}]}, format="json")
    assert r.status_code == 202
    assert run_pending(r.json()["task_id"]) == "SUCCESS"
    assert client_a.delete(f"/api/tasks/{task_id}/share/{other_user.id}/").status_code == 204
    assert client_b.get(f"/api/tasks/{task_id}/").status_code == 404


def test_deleting_the_source_task_fails_the_derived_one_clearly(client_a, sales, run_operation):
    filtered = run_operation(sales, "filter", filters=[{"column": "units", "operator": "gt", "value": 1}])
    r = submit(client_a, task_id=filtered["task_id"], operation="unique", column="country")
    client_a.delete(f"/api/tasks/{filtered['task_id']}/")
    assert run_pending(r.json()["task_id"]) == "FAILURE"
    assert Task.objects.get(id=r.json()["task_id"]).error == "The task result this operation reads no longer exists."


def test_a_failed_profile_does_not_fail_the_ingest(monkeypatch, ready_dataset, run_operation):
    import duckdb

    from csv_app.models import Dataset
    from csv_app.services import profiles
    from csv_app.storage import local_path

    def broken(*args, **kwargs):
        raise duckdb.OutOfMemoryException("no memory for the profile")

    monkeypatch.setattr(profiles, "summarize", broken)
    file_id = ready_dataset(SALES)  # asserts the ingest succeeded
    dataset = Dataset.objects.get(id=file_id)
    assert dataset.status == "READY" and not dataset.profiled
    assert not local_path(dataset.parquet_file).with_name("profile.json").exists()
    monkeypatch.undo()
    assert run_operation(file_id, "summary", columns=["units"])["result"]["value"]["units"]["distinct"] == 6


def test_a_bar_chart_over_many_labels_draws_the_largest_and_says_what_it_left_out(client_a, ready_dataset, run_operation):
    text = "label,amount\n" + "".join(f"a rather long label number {i:03d},{i}\n" for i in range(150))
    body = run_operation(ready_dataset(text), "chart", kind="bar", x="label", y="amount", agg="sum")
    value = body["result"]["value"]
    assert value["points_total"] == 150 and value["points"] == 60 and value["truncated"] is True
    assert value["capped"] == "the 59 largest bars of 150; the other 91 summed as 'other'"
    png = client_a.get(f"/api/tasks/{body['task_id']}/download/?format=png")
    assert png.status_code == 200


def test_a_line_over_a_text_x_with_many_labels_keeps_the_most_frequent(client_a, ready_dataset, run_operation):
    """Every text label is a tick of its own: 90,000 of them took minutes to draw. The 100 most frequent stay."""
    rows = [f"z{i:03d},{i}\n" for i in range(150)] + [f"z{i:03d},{i + 1}\n" for i in range(100)]
    file_id = ready_dataset("zip,amount\n" + "".join(rows))
    for kind in ("line", "scatter"):
        body = run_operation(file_id, "chart", kind=kind, x="zip", y="amount")
        value = body["result"]["value"]
        assert value["capped"] == "the points of the 100 most frequent of 150 x labels"
        assert value["points_total"] == 200 and value["points"] == 200 and value["truncated"] is True
        assert client_a.get(f"/api/tasks/{body['task_id']}/download/?format=png").status_code == 200
    few = run_operation(ready_dataset("zip,amount\na,1\nb,2\n"), "chart", kind="line", x="zip", y="amount")
    assert "capped" not in few["result"]["value"] and few["result"]["value"]["points"] == 2
    # A point needs its y; aggregated, each label kept is one point.
    gaps = [(f"z{i % 120:03d}", "" if i % 7 == 0 else str(i)) for i in range(600)]
    gapped = ready_dataset("zip,amount\n" + "".join(f"{z},{a}\n" for z, a in gaps))
    kept = [a for z, a in gaps if int(z[1:]) < 100 and a]
    value = run_operation(gapped, "chart", kind="line", x="zip", y="amount")["result"]["value"]
    assert value["points_total"] == value["points"] == len(kept)
    value = run_operation(gapped, "chart", kind="line", x="zip", y="amount", agg="mean")["result"]["value"]
    assert value["points_total"] == value["points"] == 100


def test_a_scatter_over_more_points_than_the_cap_is_a_said_sample(ready_dataset, run_operation, monkeypatch):
    from analytics_app.engine import chart

    monkeypatch.setattr(chart, "MAX_POINTS", 100)
    text = "x,y\n" + "".join(f"{i},{i * 2}\n" for i in range(1000))
    file_id = ready_dataset(text)
    value = run_operation(file_id, "chart", kind="scatter", x="x", y="y")["result"]["value"]
    assert value["capped"] == "a random sample of 100 of 1000 points" and value["points"] == 100
    line = run_operation(file_id, "chart", kind="line", x="x", y="y")["result"]["value"]
    assert line["capped"] == "every 10th of 1000 points in x order (100 drawn)"


def test_revoking_a_share_takes_the_grantees_derived_results_with_it(client_a, client_b, other_user, sales,
                                                                    run_operation):
    assert client_a.post(f"/api/datasets/{sales}/share", {"user": other_user.email}, format="json").status_code == 201
    derived = run_operation(sales, "filter", client=client_b, filters=[{"column": "units", "operator": "gt", "value": 1}])
    chained = submit(client_b, task_id=derived["task_id"], operation="unique", column="country").json()["task_id"]
    run_pending(chained)
    saved = client_b.post(f"/api/tasks/{derived['task_id']}/save-as-dataset", {"name": "mine"}, format="json")
    assert saved.status_code == 201 and run_pending(saved.json()["task_id"]) == "SUCCESS"
    r = client_b.post(f"/api/tasks/{derived['task_id']}/share", {"user": "x"}, format="json")
    assert r.status_code == 403 and r.json()["error"] == "Only the owner of the dataset this result comes from can share it."
    assert client_a.delete(f"/api/datasets/{sales}/share/{other_user.id}/").status_code == 204
    for task_id in (derived["task_id"], chained):
        assert client_b.get(f"/api/tasks/{task_id}/").status_code == 404
        assert client_b.get(f"/api/tasks/{task_id}/download/?format=csv").status_code == 404
    listed = client_b.get("/api/tasks/").json()
    assert [t["operation"] for t in listed["results"]] == ["save"], "only the job that wrote their own dataset"
    assert client_b.get(f"/api/datasets/{saved.json()['file_id']}/rows").status_code == 200, "saved before: theirs"
