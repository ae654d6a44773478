"""The periodic sweep: silent workers' tasks are requeued, then failed after a few attempts; lost messages republished."""
from datetime import timedelta

import pytest
from django.utils import timezone

from csv_app.models import Task
from csv_app.services import sweep
from tests.conftest import run_pending, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(sweep, "task_requeue", lambda task_id: sent.append(str(task_id)) or True)
    return sent


def silent(task_id, attempts: int, seconds: int = 600) -> None:
    Task.objects.filter(id=task_id).update(
        status="STARTED", attempts=attempts, worker="gone 10.0.0.9:4242",
        heartbeat_at=timezone.now() - timedelta(seconds=seconds), started_at=timezone.now())


def submit(client, file_id) -> str:
    return client.post("/api/perform-operation/", {"file_id": file_id, "operation": "dedup"}, format="json").json()["task_id"]


def test_a_silent_task_is_requeued_then_failed_after_the_last_attempt(client_a, ready_dataset, published, settings):
    file_id = ready_dataset("a,b\n1,2\n")
    task_id = submit(client_a, file_id)
    silent(task_id, attempts=1)
    assert sweep.tasks_sweep_stale()["requeued"] == 1
    assert Task.objects.get(id=task_id).status == "PENDING" and published == [task_id]
    silent(task_id, attempts=settings.TASK_MAX_ATTEMPTS)
    assert sweep.tasks_sweep_stale()["failed"] == 1
    body = client_a.get(f"/api/tasks/{task_id}/").json()
    assert body["status"] == "FAILURE"
    assert body["error"] == f"The worker running this task stopped responding {settings.TASK_MAX_ATTEMPTS} times; giving up."


def test_a_live_task_is_left_alone(client_a, ready_dataset, published):
    task_id = submit(client_a, ready_dataset("a,b\n1,2\n"))
    silent(task_id, attempts=1, seconds=1)
    assert sweep.tasks_sweep_stale() == {"requeued": 0, "failed": 0, "profiles": 0}
    assert Task.objects.get(id=task_id).status == "STARTED"


def test_queued_tasks_missing_from_the_broker_are_published_again(client_a, ready_dataset, published, monkeypatch):
    file_id = ready_dataset("a,b\n1,2\n")
    task_id = submit(client_a, file_id)
    Task.objects.filter(id=task_id).update(enqueued_at=timezone.now() - timedelta(seconds=60))
    monkeypatch.setattr(sweep, "queue_length", lambda: 1)
    assert sweep.tasks_sweep_stale()["requeued"] == 0, "one message waits for the one task"
    monkeypatch.setattr(sweep, "queue_length", lambda: 0)
    assert sweep.tasks_sweep_stale()["requeued"] == 1 and published == [task_id]


def test_an_uploads_ingest_whose_message_was_lost_is_published_again(client_a, published, monkeypatch):
    """The ingest an upload queues has its enqueue time like any job (it had none, so the sweep never looked at
    it: a lost message left the dataset PENDING for good), and its queue wait is in its timings."""
    body = upload(client_a, "a,b\n1,2\n").json()
    task = Task.objects.get(id=body["task_id"])
    assert abs(task.enqueued_at - task.created_at) < timedelta(seconds=5)
    monkeypatch.setattr(sweep, "queue_length", lambda: 0)
    assert sweep.tasks_sweep_stale()["requeued"] == 0, "queued a moment ago: not lost yet"
    Task.objects.filter(id=task.id).update(enqueued_at=timezone.now() - timedelta(seconds=60))
    assert sweep.tasks_sweep_stale()["requeued"] == 1 and published == [body["task_id"]]
    assert client_a.get(f"/api/datasets/{body['file_id']}/").json()["status"] == "PENDING"
    assert run_pending(body["task_id"]) == "SUCCESS"
    assert client_a.get(f"/api/datasets/{body['file_id']}/").json()["status"] == "READY"
    assert client_a.get(f"/api/tasks/{body['task_id']}/").json()["timings"]["queued_s"] >= 60


@pytest.mark.django_db(transaction=True)
def test_tasks_queued_before_every_job_had_an_enqueue_time_count_from_their_creation(published, monkeypatch, settings):
    """An upload's ingest queued by an earlier ravid has no enqueue time: migrating gives it its creation time, so
    the sweep finds it once it is old, and every new task has one without its creator setting it."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("csv_app", "0011_dataset_profile_queue")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        owner = old.get_model("auth", "User").objects.create(username="earlier")
        dataset = old.get_model("csv_app", "Dataset").objects.create(owner=owner, name="old.csv", source_file="x")
        created = timezone.now() - timedelta(seconds=settings.TASK_PENDING_REQUEUE_SECONDS + 5)
        Task_then = old.get_model("csv_app", "Task")
        task = Task_then.objects.create(owner=owner, dataset=dataset, operation="ingest", parameters={})
        Task_then.objects.filter(id=task.id).update(created_at=created)
        assert Task_then.objects.get(id=task.id).enqueued_at is None
    finally:  # every app at its newest again, whatever happened above
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert abs(Task.objects.get(id=task.id).enqueued_at - created) < timedelta(seconds=1)
    monkeypatch.setattr(sweep, "queue_length", lambda: 1)
    assert sweep.tasks_sweep_stale()["requeued"] == 1 and published == [str(task.id)]
    fresh = Task.objects.create(owner_id=owner.id, dataset_id=dataset.id, operation="dedup")
    assert abs(fresh.enqueued_at - timezone.now()) < timedelta(seconds=5)
