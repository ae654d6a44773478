"""How a job ends on a worker: files final before the status, progress that never goes back, jobs of stopped or
dead workers put back on the queue. The task body runs in this process (as a worker runs it)."""
import os
import socket

import pytest

from csv_app.models import Task
from csv_app.services import runner, sweep
from csv_app.storage import local_path, result_dir
from tests.conftest import run_pending, upload

pytestmark = pytest.mark.django_db
CSV = "id,city,score\n1,Paris,10\n2,Rome,7\n3,Paris,10\n"


@pytest.fixture
def published(monkeypatch):
    """What the task's folder held at the moment each final status was written."""
    seen: list[tuple[str, list[str]]] = []
    end = runner.task_end

    def spy(task, status, *args, **kwargs):
        folder = result_dir(task.id)
        seen.append((status, sorted(p.name for p in folder.iterdir()) if folder.exists() else []))
        return end(task, status, *args, **kwargs)

    monkeypatch.setattr(runner, "task_end", spy)
    return seen


def submit(client, file_id, **params) -> str:
    r = client.post("/api/perform-operation/", {"file_id": file_id, **params}, format="json")
    assert r.status_code == 202, r.content
    return r.json()["task_id"]


def test_an_ingest_and_an_operation_publish_success_with_only_their_final_files(client_a, published):
    r = upload(client_a, CSV)
    assert run_pending(r.json()["task_id"]) == "SUCCESS"
    assert published == [("SUCCESS", [])], "the ingest's attempt folder was gone before READY"
    task_id = submit(client_a, r.json()["file_id"], operation="dedup", columns=["city"])
    assert run_pending(task_id) == "SUCCESS"
    assert published[-1] == ("SUCCESS", ["attempt-1"])


def test_a_failure_and_a_time_out_are_published_after_the_attempt_folder_is_removed(client_a, published,
                                                                                       ready_dataset):
    file_id = ready_dataset(CSV)
    published.clear()
    broken = submit(client_a, file_id, operation="unique", column="city")
    dataset = Task.objects.get(id=broken).dataset
    local_path(dataset.parquet_file).unlink()  # the work fails after its folder was made
    assert run_pending(broken) == "FAILURE"
    slow = submit(client_a, file_id, operation="unique", column="score")
    assert runner.task_execute(slow, worker="test", time_limit=1e-9) == "FAILURE"
    assert Task.objects.get(id=slow).error.startswith("The task timed out")
    assert published == [("FAILURE", []), ("FAILURE", [])]
    assert not result_dir(broken).exists() and not result_dir(slow).exists()


def test_progress_never_goes_back_within_or_across_stages(client_a):
    task_id = upload(client_a, CSV).json()["task_id"]  # an ingest, whose stages these are
    Task.objects.filter(id=task_id).update(status=Task.Status.STARTED, attempts=1)
    report = runner.ProgressReporter(task_id, attempt=1, every=0)
    seen = []
    for stage, percent in [("reading", 53), ("reading", 30), ("inferring types", 10), ("writing", 90),
                           ("writing", 10)]:
        assert report(stage, percent)
        seen.append(Task.objects.get(id=task_id).progress_current)
    assert seen == [66, 66, 66, 95, 95]


def test_the_jobs_of_a_stopping_worker_and_of_dead_ones_here_go_back_on_the_queue(client_a, ready_dataset):
    file_id = ready_dataset(CSV)
    host = socket.gethostname()
    dead_pid = max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 100_000
    workers = {
        "stopping": f"w1@{host} {host}:{os.getpid()}",
        "dead": f"w2@{host} {host}:{dead_pid}",
        "alive": f"w3@{host} {host}:{os.getpid()}",
        "elsewhere": f"w4@other other-host:{dead_pid}",
    }
    ids = {
        "stopping": submit(client_a, file_id, operation="unique", column="city"),
        "dead": submit(client_a, file_id, operation="unique", column="score"),
        "alive": submit(client_a, file_id, operation="dedup", columns=["city"]),
        "elsewhere": submit(client_a, file_id, operation="dedup", columns=["score"]),
    }
    for name, task_id in ids.items():
        Task.objects.filter(id=task_id).update(status=Task.Status.STARTED, attempts=1, worker=workers[name])

    assert sweep.tasks_requeue_from_node(f"w1@{host}") == 1
    assert sweep.tasks_requeue_dead_here() == 1
    status = {name: Task.objects.get(id=task_id).status for name, task_id in ids.items()}
    assert status == {"stopping": "PENDING", "dead": "PENDING", "alive": "STARTED", "elsewhere": "STARTED"}
    assert run_pending(ids["dead"]) == "SUCCESS" and Task.objects.get(id=ids["dead"]).attempts == 2


def test_a_job_that_keeps_killing_its_worker_fails_instead_of_looping(client_a, ready_dataset, settings):
    host = socket.gethostname()
    dead_pid = max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 100_000
    task_id = submit(client_a, ready_dataset(CSV), operation="unique", column="city")
    Task.objects.filter(id=task_id).update(status=Task.Status.STARTED, attempts=settings.TASK_MAX_ATTEMPTS,
                                           worker=f"w@{host} {host}:{dead_pid}")
    assert sweep.tasks_requeue_dead_here() == 0
    task = Task.objects.get(id=task_id)
    assert task.status == "FAILURE" and "stopped responding 3 times; giving up" in task.error


def test_an_ingest_task_is_not_shared_its_dataset_is(client_a, other_user):
    task_id = upload(client_a, CSV).json()["task_id"]
    r = client_a.post(f"/api/tasks/{task_id}/share", {"user": other_user.email}, format="json")
    assert r.status_code == 409 and r.json()["error"] == "An ingest task's result is its dataset; share the dataset instead."


def test_a_retry_keeps_counting_attempts(client_a, ready_dataset):
    from csv_app.services.tasks import task_retry

    task_id = submit(client_a, ready_dataset(CSV), operation="unique", column="city")
    assert run_pending(task_id) == "SUCCESS"
    Task.objects.filter(id=task_id).update(status=Task.Status.FAILURE)
    task_retry(Task.objects.get(id=task_id))
    assert run_pending(task_id) == "SUCCESS" and Task.objects.get(id=task_id).attempts == 2


def test_a_finished_task_says_where_its_time_went(client_a, ready_dataset, run_operation, settings):
    file_id = ready_dataset("a,b\n1,2\n3,4\n")
    body = run_operation(file_id, "dedup")
    timings = body["timings"]
    assert set(timings) == {"queued_s", "claim_s", "compute_s", "store_s"}
    assert all(isinstance(v, float) and 0 <= v < 60 for v in timings.values()), timings
    settings.USER_QUOTA_BYTES = 1  # the next result cannot be kept: it fails after computing
    failed = run_operation(file_id, "unique", column="a")
    assert failed["status"] == "FAILURE" and set(failed["timings"]) == {"queued_s", "claim_s", "compute_s"}
