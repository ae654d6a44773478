"""Load: concurrent clients submit 1,000 small tasks; every one succeeds once, none is lost or duplicated."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from csv_app.models import Task
from tests.integration.conftest import Api

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.EMBEDDED_BROKER, reason="the load test runs on MySQL + Redis"),
]
TASKS = 1000
CLIENTS = 8


def test_thousand_small_tasks_from_concurrent_clients(start_worker, live_server, capsys):
    start_worker(concurrency=1)
    start_worker(concurrency=1)
    owner = Api(live_server.url, "load@example.com")
    r = owner.post("/api/upload-csv/", files={"file": ("groups.csv", "".join(
        ["g,v\n"] + [f"g{i % 1200},{i}\n" for i in range(5000)]).encode(), "text/csv")})
    body, _ = owner.wait(r.json()["task_id"])
    file_id = r.json()["file_id"]
    clients = [Api(live_server.url, f"load{i}@example.com") for i in range(CLIENTS)]
    for i, client in enumerate(clients):
        owner.post(f"/api/datasets/{file_id}/share", json={"user": f"load{i}@example.com"})

    def submit(limit: int) -> str:
        client = clients[limit % CLIENTS]
        response = client.post("/api/perform-operation/", json={
            "file_id": file_id, "operation": "top", "by": "g", "value": "v", "limit": limit})
        assert response.status_code == 202, response.text
        return response.json()["task_id"]

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        task_ids = list(pool.map(submit, range(1, TASKS + 1)))
    submitted = time.perf_counter() - started
    assert len(set(task_ids)) == TASKS

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = Task.objects.filter(id__in=task_ids, status__in=["SUCCESS", "FAILURE", "REVOKED"]).count()
        if done == TASKS:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    finished = Task.objects.filter(id__in=task_ids)
    assert finished.filter(status="SUCCESS").count() == TASKS, list(finished.exclude(status="SUCCESS").values("status", "error")[:5])
    assert finished.filter(attempts=1).count() == TASKS, "no task ran twice"
    for task in finished.only("parameters", "result_row_count"):
        assert task.result_row_count == min(task.parameters["limit"], 1200)
    with capsys.disabled():
        print(f"\nload: {TASKS} tasks from {CLIENTS} clients, 2 workers: submitted in {submitted:.1f} s, "
              f"all SUCCESS after {elapsed:.1f} s = {TASKS / elapsed:.1f} tasks/s")
