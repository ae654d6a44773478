"""Fair queues: a user's burst is published behind their own backlog, and a user already running
USER_MAX_RUNNING jobs gives way to another user's waiting job (never when alone)."""
import pytest

from csv_app.models import Task
from csv_app.services.queue import _priority
from csv_app.services.runner import must_give_way

pytestmark = pytest.mark.django_db


def jobs(client, file_id, n: int) -> list[str]:
    ids = []
    for limit in range(1, n + 1):
        r = client.post("/api/perform-operation/", {"file_id": file_id, "operation": "top", "by": "a", "agg": "count",
                                                    "limit": limit}, format="json")
        assert r.status_code == 202, r.content
        ids.append(r.json()["task_id"])
    return ids


def running(task_id) -> None:
    Task.objects.filter(id=task_id).update(status="STARTED", worker="w vm:1", attempts=1)


def test_a_users_tenth_waiting_job_is_published_behind_everyone_elses_first(client_a, client_b, ready_dataset):
    mine = jobs(client_a, ready_dataset("a\n1\n"), 12)
    theirs = jobs(client_b, ready_dataset("a\n1\n", client=client_b), 1)
    assert _priority(mine[0]) == 9 and _priority(theirs[0]) == 0, "eleven more of mine wait beside it; none of theirs"
    Task.objects.filter(id__in=mine[1:]).update(status="SUCCESS")
    assert _priority(mine[0]) == 0 and _priority(theirs[0]) == 0
    Task.objects.filter(id__in=mine[1:4]).update(status="PENDING")
    assert _priority(mine[0]) == 3


def test_a_user_at_the_cap_gives_way_to_another_users_waiting_job(client_a, client_b, ready_dataset, settings):
    settings.USER_MAX_RUNNING = 1
    first, second = jobs(client_a, ready_dataset("a\n1\n"), 2)
    running(first)
    assert must_give_way(second) is False, "alone, a user may use every worker"
    [other] = jobs(client_b, ready_dataset("a\n1\n", client=client_b), 1)
    assert must_give_way(second) is True
    assert client_a.get(f"/api/tasks/{second}/").json()["progress"]["stage"] == "waiting for your other jobs"
    assert must_give_way(other) is False, "the other user runs nothing yet"
    running(other)
    assert must_give_way(second) is False, "the other user's waiting jobs are behind their own running one"


def test_no_cap_means_no_giving_way(client_a, client_b, ready_dataset, settings):
    settings.USER_MAX_RUNNING = 0
    first, second = jobs(client_a, ready_dataset("a\n1\n"), 2)
    running(first)
    jobs(client_b, ready_dataset("a\n1\n", client=client_b), 1)
    assert must_give_way(second) is False
