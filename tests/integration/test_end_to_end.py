"""Upload → ingest → operations → status → download, with a real worker process, over HTTP."""
import csv
import io
import json

import pandas as pd
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ORDER = ["PENDING", "STARTED", "SUCCESS"]


def people_csv(rows: int) -> str:
    cities = ["Paris", "Rome", "Berlin", "Oslo", "Lima"]
    lines = ["id,zip,city,score,joined"]
    for i in range(rows):
        lines.append(f"{i},{(i * 7) % 1000:05d},{cities[i % 5]},{(i * 13) % 97},2024-{1 + i % 12:02d}-{1 + i % 28:02d}")
    return "\n".join(lines) + "\n"


def assert_progression(seen: list[str]) -> None:
    assert seen[-1] == "SUCCESS", seen
    positions = [ORDER.index(s) for s in seen]
    assert positions == sorted(positions), f"statuses went backwards: {seen}"


def test_upload_operate_poll_download(start_worker, api_user):
    start_worker()
    text = people_csv(50_000)
    frame = pd.read_csv(io.StringIO(text), dtype={"zip": str})

    r = api_user.post("/api/upload-csv/", files={"file": ("people.csv", text.encode(), "text/csv")})
    assert r.status_code == 201, r.text
    file_id, ingest_id = r.json()["file_id"], r.json()["task_id"]
    body, seen = api_user.wait(ingest_id, n=3)
    assert_progression(seen)
    assert body["result"]["row_count"] == 50_000
    assert body["result"]["data"][0] == {"id": 0, "zip": "00000", "city": "Paris", "score": 0, "joined": "2024-01-01"}
    dataset = api_user.get(f"/api/datasets/{file_id}/").json()
    assert dataset["status"] == "READY" and dataset["row_count"] == 50_000
    assert [c["type"] for c in dataset["columns"]] == ["integer", "string", "string", "integer", "date"]

    r = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "dedup", "columns": ["city", "score"]})
    assert r.status_code == 202, r.text
    assert r.json()["status_url"] == f"/api/tasks/{r.json()['task_id']}/"
    body, seen = api_user.wait(r.json()["task_id"], n=5)
    assert_progression(seen)
    expected = frame.drop_duplicates(subset=["city", "score"])
    assert body["result"]["row_count"] == len(expected)
    assert [row["id"] for row in body["result"]["data"]] == expected["id"].head(5).tolist()

    download = api_user.get(body["result"]["file_link"] + "?format=csv")
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [int(row["id"]) for row in rows] == expected["id"].tolist()
    assert rows[0]["zip"] == "00000"
    unauthenticated = api_user.http.get(body["result"]["file_link"], headers={"Authorization": ""})
    assert unauthenticated.status_code == 401

    r = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "unique", "column": "city"})
    body, _ = api_user.wait(r.json()["task_id"])
    assert {row["value"]: row["count"] for row in body["result"]["data"]} == frame["city"].value_counts().to_dict()

    r = api_user.post("/api/perform-operation/", json={
        "file_id": file_id, "operation": "filter",
        "filters": [{"column": "city", "operator": "eq", "value": "Oslo"}, {"column": "score", "operator": ">", "value": 90}],
    })
    body, _ = api_user.wait(r.json()["task_id"], n=0)
    expected = frame[(frame.city == "Oslo") & (frame.score > 90)]
    assert body["result"]["row_count"] == len(expected) and body["result"]["data"] == []
    page = api_user.get(f"/api/tasks/{body['task_id']}/rows?page=2&page_size=10&columns=id").json()
    assert [row["id"] for row in page["items"]] == expected["id"].iloc[10:20].tolist()

    listing = api_user.get("/api/tasks/?operation=filter").json()
    assert [t["task_id"] for t in listing["results"]] == [body["task_id"]]
    assert api_user.delete(f"/api/tasks/{body['task_id']}/").status_code == 204
    assert api_user.get(f"/api/tasks/{body['task_id']}/").status_code == 404


def test_health_sees_the_database_the_broker_and_the_worker(start_worker, api_user):
    start_worker(concurrency=1)
    health = api_user.get("/health/")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["service"] == "ravid"
    assert body["checks"]["database"] == "ok" and body["checks"]["broker"] == "ok"
    assert body["checks"]["workers"] >= 1


def test_a_bad_file_found_only_while_ingesting_fails_the_dataset(start_worker, api_user):
    start_worker(concurrency=1)
    text = "a,b\n" + "1,2\n" * 100_000 + '3,"never closed\n'
    r = api_user.post("/api/upload-csv/", files={"file": ("bad.csv", text.encode(), "text/csv")})
    assert r.status_code == 201
    body, _ = api_user.wait(r.json()["task_id"])
    assert body["status"] == "FAILURE"
    assert body["error"] == "Line 100002 opens a quoted field that is never closed."
    dataset = api_user.get(f"/api/datasets/{r.json()['file_id']}/").json()
    assert dataset["status"] == "FAILED" and dataset["error"] == body["error"]


def test_a_2_gb_upload_is_refused_without_being_read(live_server, api_user, settings):
    """The server answers 413 after the headers; the client has sent a few KB of its 2 GB."""
    import http.client
    from urllib.parse import urlparse

    settings.MAX_UPLOAD_BYTES = 10 * 1024 * 1024
    url = urlparse(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", "/api/upload-csv/")
    conn.putheader("Authorization", api_user.http.headers["Authorization"])
    conn.putheader("Content-Type", "text/csv")
    conn.putheader("Content-Length", str(2 * 1024**3))
    conn.endheaders()
    sent = 0
    try:
        for _ in range(64):
            conn.send(b"a,b\n" + b"1,2\n" * 1023)
            sent += 4096
    except OSError:
        pass
    response = conn.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["code"] == "too_large"
    assert sent <= 64 * 4096


def test_a_filter_result_saved_as_a_dataset_is_written_by_a_job_then_operated_on(start_worker, api_user):
    start_worker()
    text = people_csv(20_000)
    r = api_user.post("/api/upload-csv/?name=people.csv", data=text.encode(), headers={"Content-Type": "text/csv"})
    file_id = r.json()["file_id"]
    assert api_user.wait(r.json()["task_id"])[0]["status"] == "SUCCESS"
    r = api_user.post("/api/perform-operation/", json={
        "file_id": file_id, "operation": "filter", "filters": [{"column": "city", "operator": "eq", "value": "Rome"}]})
    filtered, _ = api_user.wait(r.json()["task_id"], n=0)

    saved = api_user.post(f"/api/tasks/{filtered['task_id']}/save-as-dataset", json={"name": "rome"})
    assert saved.status_code == 201 and saved.json()["dataset"]["status"] == "PENDING"
    job, seen = api_user.wait(saved.json()["task_id"])
    assert_progression(seen)
    assert job["operation"] == "save"
    dataset = api_user.get(f"/api/datasets/{saved.json()['file_id']}/").json()
    frame = pd.read_csv(io.StringIO(text))
    expected = frame[frame.city == "Rome"]
    assert dataset["status"] == "READY" and dataset["row_count"] == len(expected) and dataset["name"] == "rome"
    r = api_user.post("/api/perform-operation/", json={"file_id": dataset["id"], "operation": "unique", "column": "city"})
    body, _ = api_user.wait(r.json()["task_id"])
    assert body["result"]["data"] == [{"value": "Rome", "count": len(expected)}]
    assert api_user.delete(f"/api/tasks/{saved.json()['task_id']}/").status_code == 409, "it belongs to its dataset"
