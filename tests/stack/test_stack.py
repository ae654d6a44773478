"""`make run` left running under real use: a soak of mixed jobs, a worker killed with SIGKILL, the stack stopped with
SIGTERM mid-job and started again, an idle stack's log, the address it listens on. Real processes, nothing mocked."""
import io
import os
import re
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import psutil
import pytest
import redis
import requests

from ravid_project import embedded_broker
from tests.integration.conftest import SLOW_WORK, Api, expected_kendall, submit, wait_started

pytestmark = [pytest.mark.stack]

CITIES = ["Paris", "Rome", "Berlin", "Oslo", "Lima", "Quito", "Hanoi"]
# After the soak, the broker holds no more than this on disk: its append-only file is rewritten once it passes
# 16 MB (auto-aof-rewrite-min-size), so what stays is what is queued, and events are never stored.
BROKER_DISK_BOUND = 16 * 1024 * 1024
SOAK_SECONDS = int(os.environ.get("SOAK_SECONDS", "120"))
NOISE = re.compile(r'"level": "(WARNING|ERROR|CRITICAL)"|\b(WARN|CRIT|ERROR)\b|\[(WARNING|ERROR)\]|Traceback|'
                   r"exited unexpectedly|keeps crashing")


def small_csv(seed: int, rows: int = 3000) -> str:
    lines = ["id,city,score,amount,joined"]
    for i in range(rows):
        j = i + seed * 7919
        lines.append(f"{i},{CITIES[j % 7]},{(j * 13) % 97},{(j * 37) % 1000 / 4:.2f},"
                     f"2024-{1 + j % 12:02d}-{1 + j % 28:02d}")
    return "\n".join(lines) + "\n"


def upload(api: Api, name: str, content, wait: bool = True, timeout: float = 300) -> tuple[str, str]:
    r = api.post(f"/api/upload-csv/?name={name}", data=content, headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text
    if wait:
        body, _ = api.wait(r.json()["task_id"], timeout=timeout)
        assert body["status"] == "SUCCESS", body
    return r.json()["file_id"], r.json()["task_id"]


def job(i: int) -> tuple[dict, callable]:
    """The i-th job of the soak and a check of its result against pandas (distinct parameters, distinct tasks)."""
    kind = i % 7
    if kind == 0:
        column = ("city", "score")[i // 7 % 2]
        return {"operation": "unique", "column": column}, lambda f, b: (
            {row["value"]: row["count"] for row in b["result"]["data"]} == f[column].value_counts().to_dict())
    if kind == 1:
        columns = [["city"], ["score"], ["city", "score"], ["joined"]][i // 7 % 4]
        return {"operation": "dedup", "columns": columns}, lambda f, b: (
            b["result"]["row_count"] == len(f.drop_duplicates(subset=columns)))
    if kind == 2:
        limit = i % 97
        return ({"operation": "filter", "filters": [{"column": "score", "operator": ">", "value": limit}]},
                lambda f, b: b["result"]["row_count"] == int((f.score > limit).sum()))
    if kind == 3:
        freq = ("M", "W", "D", "Y")[i // 7 % 4]
        return {"operation": "trend", "date": "joined", "value": "amount", "freq": freq, "agg": "sum"}, lambda f, b: (
            sum(row["value"] for row in b["result"]["data"]) == pytest.approx(f.amount.sum()))
    if kind == 4:
        limit = 1 + i % 7
        def top(f, b):
            sums = f.groupby("city").amount.sum().sort_values(ascending=False).head(limit)
            return [(r["city"], pytest.approx(r["value"])) for r in b["result"]["data"]] == list(sums.items())
        return {"operation": "top", "by": "city", "value": "amount", "agg": "sum", "limit": limit}, top
    if kind == 5:
        method = ("pearson", "spearman")[i // 7 % 2]
        return {"operation": "correlation", "method": method, "columns": ["score", "amount"]}, lambda f, b: (
            b["result"]["value"]["score"]["amount"] == pytest.approx(f.score.corr(f.amount, method=method)))
    column = ("score", "amount", "id")[i // 7 % 3]
    return {"operation": "summary", "columns": [column]}, lambda f, b: (
        float(b["result"]["value"][column]["mean"]) == pytest.approx(f[column].mean()))


def test_soak_mixed_jobs_from_concurrent_clients_while_files_ingest(stack, tmp_path, big_csv):
    """Eight clients of three users run mixed small jobs for SOAK_SECONDS while large files keep ingesting."""
    s = stack()
    worker_pid = s.pid("worker")
    # The web app is served by the same server, its script and styles too (no CDN, no build step).
    login = requests.get(f"{s.url}/", timeout=10)
    assert login.status_code == 200 and login.url == f"{s.url}/app/login/?next=/app/"
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', login.text):
        assert requests.get(s.url + asset, timeout=10).status_code == 200, asset
    assert "htmx" in login.text
    users = [Api(s.url, f"soak{i}@example.com") for i in range(3)]
    frames, datasets = {}, {}
    for i, user in enumerate(users):
        text = small_csv(i)
        datasets[i], _ = upload(user, f"small{i}.csv", text.encode())
        frames[i] = pd.read_csv(io.StringIO(text))
    large = tmp_path / "large.csv"
    large.write_text(small_csv(5, rows=400_000))
    deadline = time.monotonic() + SOAK_SECONDS
    ingests: list[str] = []
    progress: dict[str, list[float]] = {}

    def uploads() -> None:
        """One 3 M-row file, then 400,000-row files one after another; each watched, checked and deleted."""
        for n, path in enumerate([big_csv] + [large] * 1000):
            if time.monotonic() > deadline:
                return
            user = users[n % 2]
            with open(path, "rb") as handle:
                file_id, task_id = upload(user, path.name, handle, wait=False)
            seen, revision = progress.setdefault(task_id, []), ""
            # Followed with the long poll: each answer is the next change (or the same task after 20 s).
            while True:
                answer = user.get(f"/api/tasks/{task_id}/?n=0&wait=20&since={revision}")
                body = answer.json()
                if body["status"] in ("SUCCESS", "FAILURE", "REVOKED"):
                    break
                seen.append(body["progress"]["percent"])
                revision = body["revision"]
                if "Retry-After" in answer.headers:  # the server had no room to wait: ask again a bit later
                    time.sleep(float(answer.headers["Retry-After"]))
            body = user.get(f"/api/tasks/{task_id}/").json()
            assert body["status"] == "SUCCESS" and body["attempts"] == 1, body
            assert body["result"]["row_count"] == (3_000_000 if path == big_csv else 400_000)
            ingests.append(task_id)
            assert user.delete(f"/api/datasets/{file_id}/").status_code == 204

    done: list[str] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        """Submit, wait, check against pandas, again, until the soak's time is up."""
        user_index, k = c % 3, 0
        while time.monotonic() < deadline:
            params, check = job(c * 1000 + k)
            task_id = submit(users[user_index], datasets[user_index], **params)
            body, _ = users[user_index].wait(task_id, timeout=300, n=1000)
            assert body["status"] == "SUCCESS", body
            assert body["attempts"] == 1, f"ran more than once: {body}"
            assert check(frames[user_index], body), f"wrong result for {params}: {body}"
            with lock:
                done.append(task_id)
            k += 1
            time.sleep(0.1)

    with ThreadPoolExecutor(9) as pool:
        futures = [pool.submit(uploads)] + [pool.submit(client, c) for c in range(8)]
        for future in futures:
            future.result()

    # Two clients of one user asking the same thing at once share one task (the idempotent submit).
    distinct = set(done)
    assert len(distinct) >= 200, f"only {len(distinct)} jobs ran"
    assert len(ingests) >= 3
    for task_id, seen in progress.items():
        assert seen == sorted(seen), f"an ingest's progress went backwards: {seen}"

    # Exactly once: the users' task lists hold each job once, and nothing else (their three small ingests).
    listed = []
    for user in users:
        page = "/api/tasks/?page_size=1000&operation="
        for operation in {job(i)[0]["operation"] for i in range(7)}:
            listed += [t["task_id"] for t in user.get(page + operation).json()["results"]]
    assert sorted(listed) == sorted(distinct)

    # No restart was needed, and the broker holds only what is queued (nothing): events are never stored.
    assert s.pid("worker") == worker_pid and s.pid("worker-small")
    assert "exited unexpectedly" not in s.output()
    media = Path(s.env["MEDIA_ROOT"])
    broker = redis.Redis(unix_socket_path=str(embedded_broker.socket_path(media)))
    keys = broker.keys("*")
    disk = sum(p.stat().st_size for p in (media / "broker").iterdir())
    print(f"\nsoak: {len(distinct)} jobs and {len(ingests)} large ingests in {SOAK_SECONDS} s; broker: {len(keys)} keys, "
          f"{broker.info('memory')['used_memory'] / 1e6:.1f} MB in memory, {disk / 1e6:.2f} MB on disk")
    from csv_app.services.queue import queue_length

    deadline = time.monotonic() + 60  # the last ingests' profiles follow them
    while queue_length() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert queue_length() == 0
    assert len(keys) <= 20, keys
    assert disk <= BROKER_DISK_BOUND


def test_a_killed_worker_is_restarted_and_its_job_finishes_once(stack, big_csv):
    s = stack()
    api = Api(s.url, "kill@example.com")
    big, _ = upload(api, "big.csv", open(big_csv, "rb"))
    small, _ = upload(api, "small.csv", small_csv(1).encode())
    frame = pd.read_csv(io.StringIO(small_csv(1)))
    long_job = submit(api, big, **SLOW_WORK)
    wait_started(api, long_job, timeout=120)
    queued = [submit(api, small, operation="filter", filters=[{"column": "score", "operator": ">", "value": v}])
              for v in range(10)]

    victim = s.pid("worker")
    group = [victim] + [c.pid for c in psutil.Process(victim).children(recursive=True)]
    for pid in group:
        psutil.Process(pid).kill()

    body, _ = api.wait(long_job, timeout=300)
    assert body["status"] == "SUCCESS", body
    assert body["attempts"] == 2, body
    assert body["result"]["value"]["amount"]["quantity"] == pytest.approx(expected_kendall(big_csv), abs=1e-12)
    for v, task_id in enumerate(queued):
        done, _ = api.wait(task_id, timeout=180)
        assert done["status"] == "SUCCESS" and done["result"]["row_count"] == int((frame.score > v).sum()), done
    assert s.pid("worker") != victim
    assert "'worker' exited unexpectedly; the supervisor is restarting it." in s.output()
    assert "gave up" not in s.output()


def test_sigterm_stops_everything_in_15_s_and_the_running_job_finishes_after_a_restart(stack, big_csv):
    s = stack()
    # Idle: nothing at WARNING or above for a sweep interval and more.
    idle_from = len(s.output())
    time.sleep(35)
    idle = s.output()[idle_from:]
    assert not [line for line in idle.splitlines() if NOISE.search(line)], idle[-3000:]

    # The web server listens on 127.0.0.1 only, and names ALLOWED_HOSTS to a Host it does not serve.
    web = psutil.Process(s.pid("web"))
    listening = {c.laddr for c in web.net_connections("inet") if c.status == psutil.CONN_LISTEN}
    assert {addr.ip for addr in listening} == {"127.0.0.1"}, listening
    refused = requests.get(f"{s.url}/api/", headers={"Host": "ravid.example.org"}, timeout=10)
    assert refused.status_code == 400
    assert "ALLOWED_HOSTS" in refused.json()["error"] and "ravid.example.org" in refused.json()["error"]

    # Flower asks for the password make run generated (and printed), and listens on 127.0.0.1.
    flower = f"http://127.0.0.1:{s.flower_port}/"
    assert requests.get(flower, timeout=10).status_code == 401
    user, password = (Path(s.env["MEDIA_ROOT"]) / "run" / "flower-auth").read_text().strip().split(":", 1)
    assert requests.get(flower, auth=(user, password), timeout=10).status_code == 200
    assert f"(user:password {user}:{password})" in s.output()

    api = Api(s.url, "stop@example.com")
    # /health/ is no lever: 30 clients calling it in a loop leave an authenticated request fast.
    flooding, stop = [], threading.Event()

    def flood() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                flooding.append(http.get(f"{s.url}/health/", timeout=30).status_code)

    floods = [threading.Thread(target=flood) for _ in range(30)]
    for thread in floods:
        thread.start()
    time.sleep(1)
    latencies = []
    for _ in range(40):
        started = time.monotonic()
        assert api.get("/api/me/").status_code == 200
        latencies.append(time.monotonic() - started)
    stop.set()
    for thread in floods:
        thread.join()
    p95 = sorted(latencies)[int(len(latencies) * 0.95) - 1]
    print(f"\n/api/me/ p95 {p95 * 1000:.0f} ms while 30 clients made {len(flooding)} /health/ calls")
    # Starved, it would wait behind the flood for seconds; on this 2-core machine it measured up to 0.43 s (a CI run
    # failed a 0.2 s bound at 0.43 s): timings are the bench's business, so the bound only catches starvation.
    assert set(flooding) == {200} and p95 < 1.0

    big, _ = upload(api, "big.csv", open(big_csv, "rb"))
    long_job = submit(api, big, **SLOW_WORK)
    wait_started(api, long_job, timeout=120)
    seconds = s.terminate()
    print(f"\nthe stack stopped {seconds:.1f} s after SIGTERM")
    assert seconds <= 15
    assert not embedded_broker.answers(Path(s.env["MEDIA_ROOT"]))
    with sqlite3.connect(Path(s.env["MEDIA_ROOT"]) / "db" / "ravid.sqlite3") as db:
        status, stage = db.execute("SELECT status, stage FROM csv_app_task WHERE id = ?",
                                   (long_job.replace("-", ""),)).fetchone()
    assert (status, stage) == ("PENDING", "requeued"), "the running job went back on the queue"

    s = stack()
    body, _ = api.wait(long_job, timeout=300)
    assert body["status"] == "SUCCESS", body
    assert body["result"]["value"]["amount"]["quantity"] == pytest.approx(expected_kendall(big_csv), abs=1e-12)
