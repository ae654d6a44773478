"""Flower behind basic auth, with its broker tab working on Redis (the embedded one or a server), naming jobs by
ravid's task ids and showing a cancelled job as REVOKED."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.integration.conftest import ROOT, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
AUTH = ("ops", "s3cret")


@pytest.fixture
def flower(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "flower.log", "wb")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # as make puts .venv/bin first
    process = subprocess.Popen(["bash", "scripts/flower.sh"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env=worker_env(FLOWER_PORT=port, FLOWER_BASIC_AUTH=":".join(AUTH), PATH=path))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(timeout=20)


def flower_state(url: str, task_id: str, want: str, timeout: float = 30) -> str:
    """The state Flower shows for a task, once it is `want` (or whatever it is at the timeout)."""
    deadline, state = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        r = requests.get(f"{url}/api/task/info/{task_id}", auth=AUTH, timeout=5)
        state = r.json().get("state") if r.status_code == 200 else None
        if state == want:
            break
        time.sleep(0.3)
    return state


def test_flower_needs_its_password_and_shows_the_redis_queue(flower):
    assert requests.get(f"{flower}/broker", timeout=10).status_code == 401
    broker = requests.get(f"{flower}/broker", auth=AUTH, timeout=10)
    assert broker.status_code == 200
    scheme = settings.CELERY_BROKER_URL.split("://")[0]  # redis, or redis+socket for the embedded broker
    assert f"{scheme}://" in broker.text and "small" in broker.text and "heavy" in broker.text


def test_flower_names_jobs_by_ravid_task_id_and_shows_a_cancelled_one_as_revoked(flower, start_worker, api_user):
    worker = start_worker(concurrency=1)
    r = api_user.post("/api/upload-csv/", files={"file": ("t.csv", b"k,v\n1,2\n1,3\n2,4\n", "text/csv")})
    file_id, ingest = r.json()["file_id"], r.json()["task_id"]
    assert api_user.wait(ingest)[0]["status"] == "SUCCESS"
    assert flower_state(flower, ingest, "SUCCESS") == "SUCCESS", "Flower knows the job by ravid's task id"

    worker.stop()  # queued with no worker, then cancelled: the worker that takes the message must not run it
    queued = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "unique", "column": "k"})
    task_id = queued.json()["task_id"]
    assert api_user.post(f"/api/tasks/{task_id}/cancel/").json()["status"] == "REVOKED"
    start_worker(concurrency=1)
    assert flower_state(flower, task_id, "REVOKED") == "REVOKED"
    assert api_user.get(f"/api/tasks/{task_id}/").json()["status"] == "REVOKED"
