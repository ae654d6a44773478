"""One user's burst does not hold back another user's single job: on a real worker, B's job starts as soon as a
worker process is free, not after A's backlog."""
import itertools

import pytest

from csv_app.models import Task
from tests.integration.conftest import Api, submit, upload, upload_ready, wait_started

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_another_users_job_starts_ahead_of_a_burst(start_worker, live_server, big_csv, tmp_path):
    a = Api(live_server.url, "burst-a@example.com")
    b = Api(live_server.url, "single-b@example.com")
    small = tmp_path / "small.csv"
    small.write_text("category\nx\ny\nx\n")
    start_worker(concurrency=2, DUCKDB_THREADS=1)
    big = upload_ready(a, big_csv)
    single = upload_ready(b, small)

    numeric = ["amount", "quantity", "key", "id"]
    burst = [submit(a, big, operation="correlation", method="kendall", columns=list(pair))
             for pair in itertools.combinations(numeric, 2)] + \
            [submit(a, big, operation="correlation", method="kendall", columns=list(triple))
             for triple in itertools.combinations(numeric, 3)]
    mine = submit(b, single, operation="unique", column="category")
    body, _ = b.wait(mine, timeout=120)
    assert body["status"] == "SUCCESS" and {r["value"]: r["count"] for r in body["result"]["data"]} == {"x": 2, "y": 1}
    started_b = Task.objects.get(id=mine).started_at
    ahead = Task.objects.filter(id__in=burst, started_at__lt=started_b).count()
    print(f"\nB's job started after {ahead} of A's {len(burst)} jobs")
    assert ahead <= 3, f"{ahead} of the burst's {len(burst)} jobs started before the other user's single job"
    for task_id in burst:
        a.post(f"/api/tasks/{task_id}/cancel/")


def test_a_small_job_finishes_at_once_while_two_large_ingests_run(start_worker, live_server, big_csv, tmp_path):
    """The `make run` layout: a worker that takes both queues, and a one-process worker for small jobs only."""
    import time

    api = Api(live_server.url, "analyst@example.com")
    small = tmp_path / "small.csv"
    small.write_text("category\nx\ny\nx\n")
    # Everything is queued before the worker taking both queues starts, so the two large ingests start together:
    # uploaded one after the other to a running worker, the first could end (its upload and the second one's take
    # a while on a busy machine) before the small job was even submitted.
    start_worker(concurrency=1, queues="small")
    uploaded = upload(api, small)
    ingests = [upload(api, big_csv)["task_id"] for _ in range(2)]
    start_worker(concurrency=2, nice=5)
    final, _ = api.wait(uploaded["task_id"], timeout=120)
    assert final["status"] == "SUCCESS", final
    single = uploaded["file_id"]
    for task_id in ingests:
        wait_started(api, task_id)
    started = time.monotonic()
    quick = submit(api, single, operation="unique", column="category")
    body, _ = api.wait(quick, timeout=60)
    took = time.monotonic() - started
    row = Task.objects.get(id=quick)
    print(f"\nqueued {(row.started_at - row.created_at).total_seconds():.3f} s, "
          f"ran {(row.finished_at - row.started_at).total_seconds():.3f} s")
    assert body["status"] == "SUCCESS" and {r["value"]: r["count"] for r in body["result"]["data"]} == {"x": 2, "y": 1}
    still = [api.get(f"/api/tasks/{t}/").json()["status"] for t in ingests]
    print(f"\na small job took {took:.3f} s from submit to SUCCESS while the ingests were {still}")
    assert still == ["STARTED", "STARTED"], "the ingests were still running"
    assert took < 1.0
    for task_id in ingests:
        final, _ = api.wait(task_id, timeout=300)
        assert final["status"] == "SUCCESS", final
