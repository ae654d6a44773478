"""Submitting operations and following them: status, results, rows, downloads, cancel, delete, 503."""
import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from django.conf import settings
from kombu.exceptions import OperationalError

from csv_app.models import Task
from tests.conftest import run_pending

pytestmark = pytest.mark.django_db
PEOPLE = (
    "id,name,city,score\n1,Ann,Paris,10\n2,Bob,Rome,7\n3,Ann,Paris,10\n4,Cid,=cmd|' /C calc'!A0,3\n5,Bob,Rome,7\n"
)


@pytest.fixture
def people(ready_dataset):
    return ready_dataset(PEOPLE)


def test_dedup_result_status_and_shape(client_a, people, run_operation):
    body = run_operation(people, "dedup", columns=["name", "city"], n=2)
    assert body["status"] == "SUCCESS" and body["operation"] == "dedup" and body["file_id"] == people
    assert body["progress"]["percent"] == 100.0 and body["progress"]["stage"] == "done"
    assert body["started_at"] and body["finished_at"] and "error" not in body
    result = body["result"]
    assert result["row_count"] == 3
    assert result["columns"] == ["id", "name", "city", "score"]
    assert [r["id"] for r in result["data"]] == [1, 2]
    assert result["file_link"] == f"http://testserver/api/tasks/{body['task_id']}/download/"
    assert result["formats"] == ["csv", "json", "parquet"]
    same = client_a.get(f"/api/task-status/?task_id={body['task_id']}&n=2").json()
    assert same == body


def test_dedup_keep_last(people, run_operation):
    body = run_operation(people, "dedup", columns="name", keep="last")
    assert [r["id"] for r in body["result"]["data"]] == [3, 4, 5]


def test_unique(people, run_operation):
    body = run_operation(people, "unique", column="name")
    assert body["result"]["data"] == [{"value": "Ann", "count": 2}, {"value": "Bob", "count": 2}, {"value": "Cid", "count": 1}]


def test_filter_with_aliases_and_any(people, run_operation):
    body = run_operation(people, "filter", filters=[{"column": "score", "operator": ">=", "value": 10},
                                                     {"column": "name", "operator": "eq", "value": "Cid"}], match="any")
    assert [r["id"] for r in body["result"]["data"]] == [1, 3, 4]


@pytest.mark.parametrize(
    "body,field,text",
    [
        ({"operation": "explode"}, "operation", "Unknown operation 'explode'"),
        ({"operation": "unique"}, "column", None),
        ({"operation": "unique", "column": "nope"}, "column", "Unknown column 'nope'"),
        ({"operation": "dedup", "keep": "middle"}, "keep", None),
        ({"operation": "dedup", "columns": ["id", "ghost"]}, "columns", "Unknown column 'ghost'"),
        ({"operation": "filter", "filters": []}, "filters", None),
        ({"operation": "filter", "filters": [{"column": "score", "operator": "gt", "value": "high"}]}, "filters", "Value 'high' is not a valid integer"),
        ({"operation": "filter", "filters": [{"column": "score", "operator": "~", "value": 1}]}, "filters", "Unknown operator '~'"),
        ({"operation": "filter", "filters": "score>1"}, "filters", None),
    ],
)
def test_bad_parameters_are_400_naming_the_field(client_a, people, body, field, text):
    r = client_a.post("/api/perform-operation/", {"file_id": people, **body}, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["details"]
    if text:
        assert text in r.json()["error"]
    assert not Task.objects.exclude(operation="ingest").exists()


def test_unknown_file_id_is_404(client_a):
    r = client_a.post("/api/perform-operation/", {"file_id": "6b1f0c3e-0000-4000-8000-000000000000", "operation": "unique", "column": "a"}, format="json")
    assert r.status_code == 404
    r = client_a.post("/api/perform-operation/", {"file_id": "nope", "operation": "unique"}, format="json")
    assert r.status_code == 400 and "file_id" in r.json()["details"]


@pytest.mark.parametrize("n", ["-1", "1001", "ten"])
def test_status_n_out_of_range_is_400(client_a, people, run_operation, n):
    body = run_operation(people, "unique", column="name")
    r = client_a.get(f"/api/tasks/{body['task_id']}/?n={n}")
    assert r.status_code == 400 and "n" in r.json()["details"]
    assert client_a.get(f"/api/task-status/?task_id={body['task_id']}&n={n}").status_code == 400


def test_status_needs_a_task_id(client_a):
    r = client_a.get("/api/task-status/")
    assert r.status_code == 400 and "task_id" in r.json()["details"]


def test_identical_submissions_share_one_live_task(client_a, people):
    body = {"file_id": people, "operation": "unique", "column": "name"}
    first = client_a.post("/api/perform-operation/", body, format="json").json()["task_id"]
    second = client_a.post("/api/perform-operation/", body, format="json").json()["task_id"]
    assert first == second


def test_pending_status_has_no_result_or_error(client_a, people):
    task_id = client_a.post("/api/perform-operation/", {"file_id": people, "operation": "unique", "column": "city"}, format="json").json()["task_id"]
    body = client_a.get(f"/api/tasks/{task_id}/").json()
    assert body["status"] == "PENDING" and "result" not in body and "error" not in body


def test_downloads_in_each_format_with_formula_escaping(client_a, people, run_operation):
    task_id = run_operation(people, "dedup", columns="name,city")["task_id"]
    r = client_a.get(f"/api/tasks/{task_id}/download/?format=csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0] == ["id", "name", "city", "score"]
    assert rows[3] == ["4", "Cid", "'=cmd|' /C calc'!A0", "3"]
    r = client_a.get(f"/api/tasks/{task_id}/download/?format=json")
    assert json.loads(b"".join(r.streaming_content))[2]["city"] == "=cmd|' /C calc'!A0"
    r = client_a.get(f"/api/tasks/{task_id}/download/?format=parquet")
    table = pq.read_table(io.BytesIO(b"".join(r.streaming_content)))
    assert table.column_names == ["id", "name", "city", "score"] and table.num_rows == 3
    assert client_a.get(f"/api/tasks/{task_id}/download/?format=xlsx").status_code == 400


def test_result_rows_query(client_a, people, run_operation):
    task_id = run_operation(people, "dedup", columns="name,city")["task_id"]
    r = client_a.get(f"/api/tasks/{task_id}/rows?sort=-score&columns=id&page_size=2")
    assert r.json() == {"page": 1, "page_size": 2, "total": 3, "pages": 2, "items": [{"id": 1}, {"id": 2}],
                        "previous": None,
                        "next": f"http://testserver/api/tasks/{task_id}/rows?columns=id&page=2&page_size=2&sort=-score"}
    second = client_a.get(r.json()["next"]).json()
    assert second["items"] == [{"id": 4}] and second["next"] is None
    assert client_a.get(second["previous"]).json()["items"] == [{"id": 1}, {"id": 2}]


def test_other_users_tasks_are_404_everywhere(client_a, client_b, people, run_operation):
    task_id = run_operation(people, "dedup")["task_id"]
    for method, url in [
        ("get", f"/api/tasks/{task_id}/"), ("get", f"/api/task-status/?task_id={task_id}"),
        ("get", f"/api/tasks/{task_id}/rows"), ("get", f"/api/tasks/{task_id}/download/"),
        ("post", f"/api/tasks/{task_id}/cancel/"), ("delete", f"/api/tasks/{task_id}/"),
    ]:
        r = getattr(client_b, method)(url)
        assert r.status_code == 404, (method, url)
    assert client_b.get("/api/tasks/").json()["count"] == 0


def test_task_list_filters(client_a, people, run_operation):
    run_operation(people, "dedup")
    run_operation(people, "unique", column="name")
    assert client_a.get("/api/tasks/").json()["count"] == 3  # with the ingest
    assert [t["operation"] for t in client_a.get("/api/tasks/?operation=unique").json()["results"]] == ["unique"]
    assert client_a.get(f"/api/tasks/?file_id={people}&status=SUCCESS").json()["count"] == 3
    assert client_a.get("/api/tasks/?status=BOGUS").status_code == 400


def test_cancel_a_queued_task_means_it_never_runs(client_a, people):
    task_id = client_a.post("/api/perform-operation/", {"file_id": people, "operation": "dedup"}, format="json").json()["task_id"]
    r = client_a.post(f"/api/tasks/{task_id}/cancel/")
    assert r.status_code == 202 and r.json()["status"] == "REVOKED"
    assert run_pending(task_id) is None
    assert client_a.get(f"/api/tasks/{task_id}/").json()["status"] == "REVOKED"
    assert not (settings.RESULTS_DIR / task_id).exists()
    assert client_a.post(f"/api/tasks/{task_id}/cancel/").status_code == 409
    # Its rows and download say it has none and never will, not that they come "once it succeeds".
    for url in (f"/api/tasks/{task_id}/rows", f"/api/tasks/{task_id}/download/"):
        r = client_a.get(url)
        assert r.status_code == 409
        assert r.json()["error"] == "The task was cancelled (REVOKED), so it has no result; submit the operation again for one."
    queued = client_a.post("/api/perform-operation/", {"file_id": people, "operation": "unique", "column": "name"},
                           format="json").json()["task_id"]
    assert client_a.get(f"/api/tasks/{queued}/rows").json()["error"] == \
        "The task is PENDING; its result is available once it succeeds."


def test_delete_task_removes_its_files(client_a, people, run_operation):
    task_id = run_operation(people, "dedup")["task_id"]
    assert (settings.RESULTS_DIR / task_id / "attempt-1" / "selection.parquet").exists()
    assert client_a.delete(f"/api/tasks/{task_id}/").status_code == 204
    assert not (settings.RESULTS_DIR / task_id).exists()
    assert client_a.get(f"/api/tasks/{task_id}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_broker_down_at_submit_is_503_and_leaves_no_row(transactional_db, client_a, people, monkeypatch):
    from csv_app.services import queue

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(queue, "publish", down)
    r = client_a.post("/api/perform-operation/", {"file_id": people, "operation": "dedup"}, format="json")
    assert r.status_code == 503
    assert r.json()["code"] == "service_unavailable" and "6379" not in r.json()["error"]
    assert not Task.objects.filter(operation="dedup").exists()


def test_a_header_cell_that_looks_like_a_formula_is_escaped_too(client_a, ready_dataset, run_operation):
    file_id = ready_dataset('"=HYPERLINK(""http://x"")",+sum,plain\n1,2,3\n')
    task_id = run_operation(file_id, "dedup")["task_id"]
    text = b"".join(client_a.get(f"/api/tasks/{task_id}/download/?format=csv").streaming_content).decode()
    assert list(csv.reader(io.StringIO(text)))[0] == ["'=HYPERLINK(\"http://x\")", "'+sum", "plain"]
