"""Faults done for real: workers killed with SIGKILL, cancellation and time limits mid-task, services restarted."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from csv_app.models import Task
from tests.integration.conftest import (ROOT, SLOW_WORK, expected_kendall, profiled, submit, upload_ready, wait_started,
                                       worker_env)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
def result_folders(task_id: str) -> list[str]:
    folder = Path(settings.RESULTS_DIR) / task_id
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def start_beat(tmp_path: Path, **env) -> subprocess.Popen:
    log = open(tmp_path / "beat.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ravid_project", "beat", "-l", "warning", "--pidfile="],
        cwd=ROOT, env=worker_env(**env), stdout=log, stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_pool_process_killed_mid_task_is_redelivered_and_succeeds_once(start_worker, api_user, big_csv):
    start_worker(concurrency=1, DUCKDB_THREADS=1)
    file_id = upload_ready(api_user, big_csv)
    task_id = submit(api_user, file_id, **SLOW_WORK)
    wait_started(api_user, task_id)
    victim = int(Task.objects.get(id=task_id).worker.rsplit(":", 1)[1])
    os.kill(victim, signal.SIGKILL)

    body, seen = api_user.wait(task_id, timeout=300)
    assert body["status"] == "SUCCESS", body
    assert body["attempts"] == 2
    assert body["result"]["value"]["amount"]["quantity"] == pytest.approx(expected_kendall(big_csv), abs=1e-12)
    assert result_folders(task_id) == ["attempt-2"]


def test_whole_worker_killed_is_swept_back_and_another_worker_finishes(start_worker, api_user, big_csv, tmp_path):
    fast_sweep = {"TASK_HEARTBEAT_STALE_SECONDS": 3, "TASK_SWEEP_INTERVAL_SECONDS": 1, "TASK_LOST_CHECK_SECONDS": 2}
    first = start_worker(concurrency=1, DUCKDB_THREADS=1, **fast_sweep)
    file_id = upload_ready(api_user, big_csv)
    task_id = submit(api_user, file_id, **SLOW_WORK)
    wait_started(api_user, task_id)
    family = [first.process.pid] + [c.pid for c in psutil.Process(first.process.pid).children(recursive=True)]
    for pid in family:
        os.kill(pid, signal.SIGKILL)
    first.process.wait()

    beat = start_beat(tmp_path, **fast_sweep)
    try:
        start_worker(concurrency=1, **fast_sweep)
        body, _ = api_user.wait(task_id, timeout=300)
    finally:
        stop(beat)
    assert body["status"] == "SUCCESS", body
    assert body["attempts"] == 2
    assert body["result"]["value"]["amount"]["quantity"] == pytest.approx(expected_kendall(big_csv), abs=1e-12)
    assert result_folders(task_id) == ["attempt-2"]


def test_cancel_stops_a_running_task_and_removes_its_files(start_worker, api_user, big_csv):
    start_worker(concurrency=1, DUCKDB_THREADS=1)
    file_id = upload_ready(api_user, big_csv)
    task_id = submit(api_user, file_id, **SLOW_WORK)
    wait_started(api_user, task_id)
    r = api_user.post(f"/api/tasks/{task_id}/cancel/")
    assert r.status_code == 202 and r.json()["status"] == "REVOKED"

    quick = submit(api_user, file_id, operation="unique", column="category")
    body, _ = api_user.wait(quick, timeout=60)
    assert body["status"] == "SUCCESS", "the worker was freed by the cancellation"
    assert api_user.get(f"/api/tasks/{task_id}/").json()["status"] == "REVOKED"
    assert result_folders(task_id) == []


def test_a_task_over_its_time_limit_fails_clearly_without_leftovers(start_worker, api_user, big_csv):
    unlimited = start_worker(concurrency=1)
    file_id = upload_ready(api_user, big_csv)
    unlimited.stop()
    start_worker(concurrency=1, DUCKDB_THREADS=1, TASK_SOFT_TIME_LIMIT=1, TASK_TIME_LIMIT=30)
    task_id = submit(api_user, file_id, **SLOW_WORK)
    body, _ = api_user.wait(task_id, timeout=120)
    assert body["status"] == "FAILURE"
    assert body["error"] == "The task timed out after 1 s."
    assert result_folders(task_id) == []


# --- real services restarted: only on the MySQL + Redis run ------------------------------------------

REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
               "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"]


def _wait_for(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError("service did not come back")


def _redis_up() -> bool:
    import redis

    try:
        return redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except Exception:
        return False


def _mariadb_up() -> bool:
    return subprocess.run(["mysqladmin", "-h", "127.0.0.1", "-uroot", "ping"], capture_output=True).returncode == 0


def _mariadb_gone() -> bool:
    """No mariadbd process at all: one still flushing after refusing connections would make the start a no-op."""
    return subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True).returncode != 0


def _start_mariadb() -> bool:
    """The machine's own start command (the env page's), again if the server is not up after a while."""
    _wait_for(_mariadb_gone, 60)
    for _ in range(3):
        subprocess.run(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
                       capture_output=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _mariadb_up():
                return True
            time.sleep(0.3)
    return False


needs_redis = pytest.mark.skipif(settings.EMBEDDED_BROKER, reason="restarts the Redis server at 127.0.0.1:6379")
needs_mysql = pytest.mark.skipif(not settings.DATABASES["default"]["ENGINE"].endswith("mysql"), reason="runs on MySQL")


@needs_redis
def test_redis_restart_loses_no_queued_task(start_worker, api_user, tmp_path):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is needed to restart Redis")
    ingesting = start_worker(concurrency=1)
    r = api_user.post("/api/upload-csv/", files={"file": ("t.csv", b"k,v\n1,2\n1,3\n2,4\n", "text/csv")})
    api_user.wait(r.json()["task_id"])
    file_id = r.json()["file_id"]
    ingesting.stop()  # no worker consumes while the tasks are queued, so the restart really drops their messages
    queued = [submit(api_user, file_id, operation="unique", column="k"),
              submit(api_user, file_id, operation="top", by="k", value="v"),
              submit(api_user, file_id, operation="dedup", columns=["k"])]
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True)
    try:
        _wait_for(lambda: not _redis_up(), 20)
        down = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "unique", "column": "v"})
        assert down.status_code == 503 and down.json()["code"] == "service_unavailable"
        assert api_user.get("/health/").status_code == 503
    finally:
        subprocess.run(REDIS_START, capture_output=True)
        _wait_for(_redis_up)
    fast = {"TASK_SWEEP_INTERVAL_SECONDS": 1, "TASK_LOST_CHECK_SECONDS": 1}
    beat = start_beat(tmp_path, **fast)
    try:
        start_worker(concurrency=2, **fast)
        for task_id in queued:
            body, _ = api_user.wait(task_id, timeout=120)
            assert body["status"] == "SUCCESS", body
    finally:
        stop(beat)
    assert Task.objects.filter(operation="unique", parameters__column="v").count() == 0, "the 503 left no row"


@needs_mysql
def test_mariadb_restart_answers_503_then_work_resumes(start_worker, api_user):
    start_worker(concurrency=1)
    r = api_user.post("/api/upload-csv/", files={"file": ("t.csv", b"k,v\n1,2\n1,3\n2,4\n", "text/csv")})
    api_user.wait(r.json()["task_id"])
    file_id = r.json()["file_id"]
    subprocess.run(["mysqladmin", "-h", "127.0.0.1", "-uroot", "shutdown"], capture_output=True)
    try:
        _wait_for(lambda: not _mariadb_up() and _mariadb_gone(), 60)
        listing = api_user.get("/api/datasets/")
        assert listing.status_code == 503, listing.text
        assert listing.json()["code"] == "service_unavailable"
        health = api_user.get("/health/")
        assert health.status_code == 503 and health.json()["checks"]["database"] == "unavailable"
    finally:
        assert _start_mariadb(), "MariaDB did not start again"
    from django.db import connections

    connections.close_all()  # this test process's own connections died with the server
    _wait_for(lambda: api_user.get("/api/datasets/").status_code == 200, 60)
    task_id = submit(api_user, file_id, operation="unique", column="k")
    body, _ = api_user.wait(task_id, timeout=120)
    assert body["status"] == "SUCCESS"


def test_a_lost_profile_is_queued_again_by_the_sweep_a_few_times_then_given_up(start_worker, api_user, tmp_path,
                                                                                settings):
    """A dataset's profile job is acknowledged on receipt: lost (its message dropped, its worker killed, the store
    down), the dataset stays without a profile until the sweep queues the job again, PROFILE_MAX_ATTEMPTS in all."""
    from datetime import timedelta

    from django.utils import timezone

    from csv_app.models import Dataset
    from csv_app.services.sweep import tasks_sweep_stale

    start_worker(concurrency=1).wait_ready()
    data = tmp_path / "cities.csv"
    data.write_text("city,temp\n" + "".join(f"{['Oslo', 'Rome', 'Lima'][i % 3]},{i % 40}\n" for i in range(3000)))
    file_id = upload_ready(api_user, data)
    assert profiled(api_user, file_id), "the follow-up profile job ran"
    dataset = Dataset.objects.get(id=file_id)
    assert (dataset.profile_attempts, dataset.profile_queued_at is not None) == (1, True)
    profile = Path(settings.MEDIA_ROOT) / dataset.parquet_file
    profile = profile.with_name("profile.json")

    def lose_it(queued_seconds_ago: float, attempts: int) -> None:
        profile.unlink(missing_ok=True)
        Dataset.objects.filter(id=file_id).update(
            profiled=False, profile_attempts=attempts,
            profile_queued_at=timezone.now() - timedelta(seconds=queued_seconds_ago))

    lose_it(queued_seconds_ago=5, attempts=1)  # queued a moment ago: it may still be on its way
    assert tasks_sweep_stale()["profiles"] == 0
    lose_it(queued_seconds_ago=settings.PROFILE_REQUEUE_SECONDS + 1, attempts=1)
    assert tasks_sweep_stale()["profiles"] == 1
    assert profiled(api_user, file_id), "the worker profiled it again"
    assert profile.exists() and Dataset.objects.get(id=file_id).profile_attempts == 2
    body = api_user.get(f"/api/datasets/{file_id}/").json()
    assert body["profiled"] is True

    lose_it(queued_seconds_ago=settings.PROFILE_REQUEUE_SECONDS + 1, attempts=settings.PROFILE_MAX_ATTEMPTS)
    assert tasks_sweep_stale()["profiles"] == 0, "given up after the last attempt"
    # Without it, a summary is computed from the data.
    task_id = submit(api_user, file_id, operation="summary", columns=["temp"])
    final, _ = api_user.wait(task_id)
    assert final["status"] == "SUCCESS" and final["result"]["value"]["temp"]["count"] == 3000
    assert not profile.exists() and api_user.get(f"/api/datasets/{file_id}/").json()["profiled"] is False
