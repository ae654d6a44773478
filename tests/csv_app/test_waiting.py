"""Waiting without polling: GET /api/tasks/{id}/?wait=SECONDS&since=REVISION answers at the task's next change."""
import threading
import time

import pytest

from csv_app.models import Task
from csv_app.services import waiting

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(client_a, ready_dataset):
    file_id = ready_dataset("a,b\n1,2\n3,4\n")
    r = client_a.post("/api/perform-operation/", {"file_id": file_id, "operation": "unique", "column": "a"},
                      format="json")
    return r.json()["task_id"]


def later(seconds: float, task_id: str, **fields) -> threading.Thread:
    def change():
        time.sleep(seconds)
        Task.objects.filter(id=task_id).update(**fields)

    thread = threading.Thread(target=change)
    thread.start()
    return thread


def waited_while(client, url: str, work) -> tuple[dict, float]:
    """The body of a GET of `url` made while `work` runs in a thread, and the seconds it took."""
    thread = threading.Thread(target=work)
    thread.start()
    started = time.monotonic()
    body = client.get(url).json()
    took = time.monotonic() - started
    thread.join()
    return body, took


def test_a_wait_is_answered_at_the_next_change(client_a, queued):
    first = client_a.get(f"/api/tasks/{queued}/").json()
    assert first["revision"] and first["progress"]["eta_seconds"] is None
    thread = later(0.4, queued, status="STARTED", stage="reading", progress_current=30)
    started = time.monotonic()
    body = client_a.get(f"/api/tasks/{queued}/?wait=20&since={first['revision']}").json()
    took = time.monotonic() - started
    thread.join()
    assert body["status"] == "STARTED" and body["progress"]["stage"] == "reading"
    assert body["progress"]["percent"] == 30.0 and body["revision"] != first["revision"]
    assert 0.3 < took < 10


def test_a_tasks_end_is_heard_at_once_not_at_the_next_check_of_the_row(client_a, queued, settings):
    """The broker (Redis) announces a task's end: with rows checked only every 60 s, a 20 s wait still ends with
    the task's SUCCESS, and its rows."""
    from tests.conftest import run_pending

    settings.TASK_WAIT_INTERVAL_SECONDS = 60
    first = client_a.get(f"/api/tasks/{queued}/").json()

    def run():
        time.sleep(0.5)
        run_pending(queued)

    body, took = waited_while(client_a, f"/api/tasks/{queued}/?wait=20&since={first['revision']}&n=10", run)
    assert body["status"] == "SUCCESS", body
    assert took < 10, "answered when the task ended, not at the end of the wait"
    assert sorted(row["value"] for row in body["result"]["data"]) == [1, 3]


def test_a_wait_until_the_end_sleeps_through_progress_and_answers_at_the_end(client_a, queued):
    """until=end: the claim and the progress on the way wake nobody; the task's end does, with its rows."""
    from tests.conftest import run_pending

    first = client_a.get(f"/api/tasks/{queued}/").json()
    progress = later(0.3, queued, status="STARTED", stage="reading", progress_current=30)

    def run():
        progress.join()
        time.sleep(0.9)
        Task.objects.filter(id=queued).update(status="PENDING", stage="")
        run_pending(queued)

    body, took = waited_while(client_a, f"/api/tasks/{queued}/?wait=20&until=end&since={first['revision']}&n=10",
                              run)
    assert body["status"] == "SUCCESS", body
    assert 1.0 < took < 10, "answered at the end, not at the progress before it"
    assert sorted(row["value"] for row in body["result"]["data"]) == [1, 3]


def test_a_wait_until_the_end_that_times_out_shows_the_progress_made(client_a, queued):
    first = client_a.get(f"/api/tasks/{queued}/").json()
    later(0.2, queued, status="STARTED", stage="reading", progress_current=30).join()
    started = time.monotonic()
    body = client_a.get(f"/api/tasks/{queued}/?wait=0.8&until=end&since={first['revision']}").json()
    assert time.monotonic() - started >= 0.8
    assert body["status"] == "STARTED" and body["progress"]["stage"] == "reading"
    assert body["revision"] != first["revision"]


def test_an_unchanged_task_is_answered_at_the_end_of_the_wait(client_a, queued):
    first = client_a.get(f"/api/task-status/?task_id={queued}").json()
    started = time.monotonic()
    body = client_a.get(f"/api/task-status/?task_id={queued}&wait=0.6&since={first['revision']}").json()
    assert time.monotonic() - started >= 0.6
    assert body["revision"] == first["revision"] and body["status"] == "PENDING"


def test_a_change_missed_between_two_requests_is_answered_at_once(client_a, queued):
    first = client_a.get(f"/api/tasks/{queued}/").json()
    Task.objects.filter(id=queued).update(stage="starting", status="STARTED")
    started = time.monotonic()
    body = client_a.get(f"/api/tasks/{queued}/?wait=30&since={first['revision']}").json()
    assert time.monotonic() - started < 5 and body["status"] == "STARTED"


def test_a_finished_task_and_a_busy_server_answer_at_once(client_a, queued):
    taken = 0
    while waiting._waiting.acquire(blocking=False):  # every waiting place of this process is held
        taken += 1
    try:
        started = time.monotonic()
        response = client_a.get(f"/api/tasks/{queued}/?wait=30")
        assert time.monotonic() - started < 5 and response.json()["status"] == "PENDING"
        assert response["Retry-After"] == "1"  # not waited: ask again after a second
    finally:
        for _ in range(taken):
            waiting._waiting.release()
    Task.objects.filter(id=queued).update(status="REVOKED", stage="cancelled")
    started = time.monotonic()
    assert client_a.get(f"/api/tasks/{queued}/?wait=30").json()["status"] == "REVOKED"
    assert time.monotonic() - started < 5


def test_eta_follows_the_pace_so_far(client_a, queued):
    from datetime import timedelta

    from django.utils import timezone

    Task.objects.filter(id=queued).update(status="STARTED", started_at=timezone.now() - timedelta(seconds=10),
                                          progress_current=25, progress_total=100)
    eta = client_a.get(f"/api/tasks/{queued}/").json()["progress"]["eta_seconds"]
    assert 29 <= eta <= 32


@pytest.mark.parametrize("query, message", [
    ("wait=61", "wait"), ("wait=-1", "wait"), ("wait=soon", "wait"), ("since=" + "x" * 65, "since"),
    ("wait=5&until=done", "until"),
])
def test_bad_waits_are_400_naming_the_parameter(client_a, queued, query, message):
    r = client_a.get(f"/api/tasks/{queued}/?{query}")
    assert r.status_code == 400 and message in r.json()["details"]


def test_waiting_on_another_users_task_is_404(client_b, queued):
    assert client_b.get(f"/api/tasks/{queued}/?wait=5").status_code == 404
