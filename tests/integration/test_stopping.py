"""Stopping work for real, on a real worker: a cancelled job frees its worker within seconds whatever it was doing,
and a job over its memory bound fails clearly instead of taking the host down. Each measures what a user waits."""
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from csv_app.models import Task
from tests.integration.conftest import SLOW_WORK, submit, upload, upload_ready, wait_started

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# What a user notices: after a cancel, the next job on a one-process worker starts within this many seconds.
# Measured over 16 runs of the test below: a job that stops itself (the ingest; the chart, which DuckDB's interrupt
# stops: 0.55 s in three later runs), 0.22-0.57 s; one that must be killed (Kendall, in C holding the GIL),
# 1.9-2.6 s. Before the watchdog asked the pool to replace a killed process at once, the kill path took 1.7-4.7 s
# and, in 6 of 36 runs (and both phases of one CI run), 5.9-6.9 s.
FREED_WITHIN = 5.0


def result_folders(task_id: str) -> list[str]:
    folder = Path(settings.RESULTS_DIR) / task_id
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def folders_gone(task_id: str, timeout: float = 10.0) -> list[str]:
    """A killed attempt's folder is removed by the worker's main process once the process is dead (within a
    second or so); a job that stopped by itself removed its own."""
    deadline = time.monotonic() + timeout
    while result_folders(task_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    return result_folders(task_id)


def started_after(task_id: str, moment) -> float:
    started = Task.objects.get(id=task_id).started_at
    return (started - moment).total_seconds()


def cancel_then_run_next(api, long_task: str, small_file: str) -> tuple[float, dict]:
    """Cancel a running job, submit a tiny one; returns how long after the cancel the tiny one started."""
    wait_started(api, long_task)
    cancelled_at = timezone.now()
    r = api.post(f"/api/tasks/{long_task}/cancel/")
    assert r.status_code == 202 and r.json()["status"] == "REVOKED", r.text
    quick = submit(api, small_file, operation="unique", column="category", fresh=True)  # a new job, not a reused one
    body, _ = api.wait(quick, timeout=60)
    assert body["status"] == "SUCCESS", body
    return started_after(quick, cancelled_at), api.get(f"/api/tasks/{long_task}/").json()


def test_a_cancelled_job_frees_its_worker_within_seconds_whatever_it_was_doing(start_worker, api_user, big_csv,
                                                                              tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("category,amount\na,1\nb,2\na,3\n")
    start_worker(concurrency=1, DUCKDB_THREADS=1)
    small_file = upload_ready(api_user, small)
    big_file = upload_ready(api_user, big_csv)
    waits = {}

    ingest = upload(api_user, big_csv)  # reading and converting a 200 MB file
    waits["ingest"], body = cancel_then_run_next(api_user, ingest["task_id"], small_file)
    assert body["status"] == "REVOKED"
    dataset = api_user.get(f"/api/datasets/{ingest['file_id']}/").json()
    assert dataset["status"] == "FAILED" and dataset["error"] == "The ingest was cancelled."

    kendall = submit(api_user, big_file, **SLOW_WORK)  # scipy, in C, holding the GIL: only a kill stops it
    waits["kendall"], body = cancel_then_run_next(api_user, kendall, small_file)
    assert body["status"] == "REVOKED" and "result" not in body

    # A chart still in DuckDB: the median of amount for each of ~2.7 M keys, ~2 s of DuckDB on one thread here. (A
    # plain line chart of amount was 0.33-0.41 s of DuckDB, less than the half second before a job's first stage,
    # and ~1.3 s in all: it succeeded before the cancel, or before it reported a stage, in both phases of one CI run.)
    chart = submit(api_user, big_file, operation="chart", kind="line", x="key", y="amount", agg="median")
    waits["chart"], body = cancel_then_run_next(api_user, chart, small_file)
    assert body["status"] == "REVOKED"

    for task_id in (ingest["task_id"], kendall, chart):
        if api_user.get(f"/api/tasks/{task_id}/").json()["status"] == "REVOKED":
            assert folders_gone(task_id) == []
    print("next job started after the cancel (s):", {k: round(v, 2) for k, v in waits.items()})
    assert max(waits.values()) < FREED_WITHIN, waits


def test_a_job_over_its_memory_bound_fails_clearly_and_the_worker_goes_on(start_worker, api_user, big_csv, tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("category,amount\na,1\nb,2\na,3\n")
    unbounded = start_worker(concurrency=1)
    small_file = upload_ready(api_user, small)
    big_file = upload_ready(api_user, big_csv)
    unbounded.stop()

    worker = start_worker(concurrency=1, DUCKDB_THREADS=1, JOB_MEMORY_LIMIT_MB=350)
    task_id = submit(api_user, big_file, **SLOW_WORK)  # Kendall holds its columns in memory
    body, _ = api_user.wait(task_id, timeout=120)
    assert body["status"] == "FAILURE", body
    assert body["error"] == (
        "The job used more than 350 MB of memory, the bound for one job (JOB_MEMORY_LIMIT_MB), and was stopped. "
        "Run it on fewer rows or columns (a filter first), or ask the operator to raise the bound.")
    quick = submit(api_user, small_file, operation="unique", column="category")
    after, _ = api_user.wait(quick, timeout=60)
    assert after["status"] == "SUCCESS" and after["result"]["data"][0] == {"value": "a", "count": 2}
    assert folders_gone(task_id) == []
    # Killed by the worker's main process, or stopped by itself at a progress step after the watchdog ended it:
    # either way the worker lives on.
    assert worker.process.poll() is None, "the worker itself lives on"
