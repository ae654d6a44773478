"""A real Celery worker process beside the live test server, on the configured database and broker."""
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"mysql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


def worker_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Worker:
    """A `celery worker` child process; stopped (or killed) at the end of the test."""

    def __init__(self, tmp_path: Path, concurrency: int = 2, queues: str = "", nice: int = 0, **env):
        from ravid_project.celery import app

        self.app = app
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = tmp_path / f"{self.name}.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ravid_project", "worker", "-l", os.environ.get("TEST_WORKER_LOG_LEVEL", "warning"),
             "-c", str(concurrency), "-n", self.name, "--without-mingle", "--without-gossip", "-E",
             *(["-Q", queues] if queues else [])],
            cwd=ROOT, env=worker_env(**env), stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if self.app.control.ping(destination=[self.name], timeout=0.5):
                    return
            except Exception:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def start_worker(live_server, tmp_path):
    started: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(tmp_path, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


class Api:
    """A person using the HTTP API with requests: registers, logs in, polls."""

    def __init__(self, base: str, email: str):
        self.base = base.rstrip("/")
        self.http = requests.Session()
        # A kept-alive connection the server closes just as a GET reuses it is reset (gunicorn's keep-alive race):
        # reads are retried, never a POST.
        retry = Retry(total=2, connect=2, read=2, status=0, allowed_methods={"GET"}, raise_on_status=False)
        self.http.mount("http://", HTTPAdapter(max_retries=retry))
        password = "Integration-Passw0rd!"
        r = self.http.post(f"{self.base}/api/register/", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        r = self.http.post(f"{self.base}/api/login/", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        self.http.headers["Authorization"] = f"Bearer {r.json()['access']}"

    def get(self, path, **kw):
        return self.http.get(path if path.startswith("http") else self.base + path, timeout=30, **kw)

    def post(self, path, **kw):
        return self.http.post(self.base + path, timeout=60, **kw)

    def delete(self, path, **kw):
        return self.http.delete(self.base + path, timeout=30, **kw)

    def wait(self, task_id: str, timeout: float = 120.0, n: int = 100, until=("SUCCESS", "FAILURE", "REVOKED")):
        """Follow the task until it ends, with the long poll (each answer is its next change); returns (final body,
        every status seen in order)."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        revision = ""
        while time.monotonic() < deadline:
            asked = time.monotonic()
            wait = max(0.0, min(10.0, deadline - asked))
            answer = self.get(f"/api/task-status/?task_id={task_id}&n={n}&wait={wait:.1f}&since={revision}")
            body = answer.json()
            if not seen or seen[-1] != body["status"]:
                seen.append(body["status"])
            if body["status"] in until:
                return body, seen
            if "Retry-After" in answer.headers:
                time.sleep(0.05)  # the server had no room to wait: ask again shortly
            revision = body["revision"]
        raise AssertionError(f"task {task_id} still {seen[-1] if seen else '?'} after {timeout}s: {seen}")


# Seconds of work on one core that cannot finish before a test acts (Kendall's tau is computed pair by pair in
# memory) on the big_csv file; dedup and filter are too quick for that.
SLOW_WORK = {"operation": "correlation", "method": "kendall", "columns": ["amount", "quantity", "key"]}


def submit(api, file_id: str, **body) -> str:
    r = api.post("/api/perform-operation/", json={"file_id": file_id, **body})
    assert r.status_code == 202, r.text
    return r.json()["task_id"]


def upload(api, path: Path) -> dict:
    """Upload a CSV file as a raw body; the 201 body."""
    with open(path, "rb") as handle:
        r = api.post(f"/api/upload-csv/?name={path.name}", data=handle, headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    return r.json()


def upload_ready(api, path: Path) -> str:
    """Upload a CSV file and wait until its ingest succeeded; the dataset's id."""
    body = upload(api, path)
    final, _ = api.wait(body["task_id"], timeout=300)
    assert final["status"] == "SUCCESS", final
    return body["file_id"]


def profiled(api, file_id: str, timeout: float = 60) -> bool:
    """Wait up to `timeout` seconds for the dataset's follow-up profile; whether it came."""
    deadline = time.monotonic() + timeout
    while not (done := api.get(f"/api/datasets/{file_id}/").json()["profiled"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return done


def wait_started(api, task_id: str, timeout: float = 60) -> dict:
    """Poll until the task runs past its start (its job reports a stage of its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(f"/api/tasks/{task_id}/").json()
        if body["status"] == "STARTED" and body["progress"]["stage"] != "starting":
            return body
        assert body["status"] in ("PENDING", "STARTED"), body
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} never started")


def expected_kendall(path: Path) -> float:
    """Kendall's tau of the benchmark file's amount and quantity, as scipy computes it."""
    import pandas as pd
    from scipy.stats import kendalltau

    frame = pd.read_csv(path, usecols=["amount", "quantity"])
    return kendalltau(frame["amount"], frame["quantity"]).statistic


@pytest.fixture
def api_user(live_server):
    return Api(live_server.url, f"ann-{uuid.uuid4().hex[:6]}@example.com")
