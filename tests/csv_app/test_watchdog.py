"""What the worker's watchdog decides to kill: a job that is no longer its process's own after a grace period, a job
over its memory bound at once (ending it FAILURE with a reason first); never a job that is still its own, nor one
not claimed yet. (The killing itself runs on a real worker: tests/integration/test_stopping.py.)"""
import pytest
from django.utils import timezone

from csv_app.models import Task
from csv_app.services.watchdog import Running, Watch, job_killed, memory_reason
from csv_app.storage import result_dir

pytestmark = pytest.mark.django_db
ME = "worker@here vm:4242"


def submitted(client, file_id, operation: str = "dedup", **params) -> str:
    r = client.post("/api/perform-operation/", {"file_id": file_id, "operation": operation, **params}, format="json")
    return r.json()["task_id"]


def running_here(task_id, worker=ME, status="STARTED", attempts=1) -> Running:
    Task.objects.filter(id=task_id).update(status=status, worker=worker, attempts=attempts, started_at=timezone.now())
    return Running(str(task_id), ME, 4242, 100 * 2**20)


def test_a_cancelled_job_still_running_is_killed_only_after_the_grace_period(client_a, ready_dataset):
    task_id = submitted(client_a, ready_dataset("a\n1\n"))
    job = running_here(task_id, status="REVOKED")
    watch = Watch(memory_limit=2**30, grace=2.0)
    assert watch.check([job], now=100.0) == []
    assert watch.check([job], now=101.5) == []
    [stop] = watch.check([job], now=102.0)
    assert (stop.running, stop.attempt, stop.reason) == (job, 1, "REVOKED")


def test_a_job_that_is_still_its_own_or_not_claimed_yet_is_left_alone(client_a, ready_dataset):
    file_id = ready_dataset("a\n1\n")
    own = running_here(submitted(client_a, file_id))
    queued = running_here(submitted(client_a, file_id, "unique", column="a"), worker="", status="PENDING", attempts=0)
    watch = Watch(memory_limit=2**30, grace=0.0)
    assert watch.check([own, queued], now=10.0) == [] and watch.check([own, queued], now=99.0) == []


def test_a_job_taken_over_by_another_attempt_is_killed_without_touching_that_attempts_files(client_a, ready_dataset):
    task_id = submitted(client_a, ready_dataset("a\n1\n"))
    job = running_here(task_id, worker="worker@there vm:7", attempts=2)
    watch = Watch(memory_limit=2**30, grace=1.0)
    watch.check([job], now=0.0)
    [stop] = watch.check([job], now=1.0)
    assert stop.attempt is None, "the other attempt owns the folder"


def test_losing_the_job_must_last_the_whole_grace_period(client_a, ready_dataset):
    task_id = submitted(client_a, ready_dataset("a\n1\n"))
    job = running_here(task_id, status="REVOKED")
    watch = Watch(memory_limit=2**30, grace=2.0)
    watch.check([job], now=0.0)
    Task.objects.filter(id=task_id).update(status="STARTED")  # retried and claimed by this process again
    assert watch.check([job], now=1.0) == []
    Task.objects.filter(id=task_id).update(status="REVOKED")
    assert watch.check([job], now=2.5) == [], "the grace period starts again"
    assert len(watch.check([job], now=4.5)) == 1


def test_a_job_over_its_memory_bound_fails_with_the_reason_before_it_is_killed(client_a, ready_dataset):
    task_id = submitted(client_a, ready_dataset("a\n1\n"))
    job = running_here(task_id)
    fat = Running(job.task_id, job.identity, job.pid, 600 * 2**20)
    [stop] = Watch(memory_limit=512 * 2**20, grace=60.0).check([fat], now=0.0)
    assert stop.reason == "memory" and stop.attempt == 1
    task = Task.objects.get(id=task_id)
    assert task.status == "FAILURE" and task.error == memory_reason(512 * 2**20)
    assert task.error.startswith("The job used more than 512 MB of memory")
    body = client_a.get(f"/api/tasks/{task_id}/").json()
    assert body["status"] == "FAILURE" and body["error"] == task.error


def test_after_a_kill_only_that_attempts_unfinished_folder_goes(client_a, ready_dataset):
    task_id = submitted(client_a, ready_dataset("a\n1\n"))
    folder = result_dir(task_id)
    (folder / ".attempt-2-abcd.tmp").mkdir(parents=True)
    (folder / ".attempt-3-ef01.tmp").mkdir()
    job_killed(task_id, 2)
    assert sorted(p.name for p in folder.iterdir()) == [".attempt-3-ef01.tmp"]
    job_killed(task_id, 3)
    assert not folder.exists()
