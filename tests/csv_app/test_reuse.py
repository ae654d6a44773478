"""Result reuse: an identical request on the same input returns the task that already answered it, at once,
unless `fresh` is asked for; never another user's task unless it was shared with the caller."""
import pytest

from csv_app.models import Task
from csv_app.storage import remove_tree, result_dir
from tests.conftest import run_pending

pytestmark = pytest.mark.django_db
CSV = "city,score\nParis,3\nRome,5\nParis,7\n"


def submit(client, **body):
    r = client.post("/api/perform-operation/", body, format="json")
    assert r.status_code == 202, r.content
    return r.json()


def test_an_identical_request_reuses_the_finished_result_at_once(client_a, ready_dataset, run_operation):
    file_id = ready_dataset(CSV)
    first = run_operation(file_id, "unique", column="city")
    again = submit(client_a, file_id=file_id, operation="unique", column="city")
    assert again == {"message": "Result reused", "task_id": first["task_id"],
                     "status_url": f"/api/tasks/{first['task_id']}/", "reused": True}
    body = client_a.get(again["status_url"]).json()
    assert body["status"] == "SUCCESS" and body["result"]["data"] == [{"value": "Paris", "count": 2},
                                                                      {"value": "Rome", "count": 1}]
    other = submit(client_a, file_id=file_id, operation="unique", column="score")
    assert other["reused"] is False and other["message"] == "Operation started", "other parameters: a new task"
    assert Task.objects.filter(operation="unique").count() == 2


def test_fresh_computes_again(client_a, ready_dataset, run_operation):
    file_id = ready_dataset(CSV)
    first = run_operation(file_id, "unique", column="city")
    fresh = submit(client_a, file_id=file_id, operation="unique", column="city", fresh=True)
    assert fresh["reused"] is False and fresh["task_id"] != first["task_id"]
    assert run_pending(fresh["task_id"]) == "SUCCESS"
    r = client_a.post("/api/perform-operation/", {"file_id": file_id, "operation": "unique", "column": "city",
                                                  "fresh": "maybe"}, format="json")
    assert r.status_code == 400 and "fresh" in r.json()["details"]


def test_a_queued_identical_request_is_the_same_task(client_a, ready_dataset):
    file_id = ready_dataset(CSV)
    first = submit(client_a, file_id=file_id, operation="unique", column="city")
    again = submit(client_a, file_id=file_id, operation="unique", column="city")
    assert again["task_id"] == first["task_id"] and again["reused"] is True
    assert again["message"] == "Operation started"
    fresh = submit(client_a, file_id=file_id, operation="unique", column="city", fresh=True)
    assert fresh["task_id"] == first["task_id"] and fresh["reused"] is True, "still to compute: fresh already"
    assert Task.objects.filter(operation="unique").count() == 1


def test_another_users_result_is_reused_only_when_shared_with_them(client_a, client_b, other_user, ready_dataset,
                                                                   run_operation):
    file_id = ready_dataset(CSV)
    assert client_a.post(f"/api/datasets/{file_id}/share", {"user": other_user.email}, format="json").status_code == 201
    mine = run_operation(file_id, "unique", column="city")
    theirs = submit(client_b, file_id=file_id, operation="unique", column="city")
    assert theirs["reused"] is False and theirs["task_id"] != mine["task_id"], "not shared: never another's task"
    Task.objects.filter(id=theirs["task_id"]).delete()
    assert client_a.post(f"/api/tasks/{mine['task_id']}/share", {"user": other_user.email},
                         format="json").status_code == 201
    shared = submit(client_b, file_id=file_id, operation="unique", column="city")
    assert shared["reused"] is True and shared["task_id"] == mine["task_id"]


def test_a_failed_task_or_one_whose_files_are_gone_is_not_reused(client_a, ready_dataset, run_operation):
    file_id = ready_dataset(CSV)
    first = run_operation(file_id, "dedup")
    remove_tree(result_dir(first["task_id"]))
    again = submit(client_a, file_id=file_id, operation="dedup")
    assert again["reused"] is False and again["task_id"] != first["task_id"]
    Task.objects.filter(id=again["task_id"]).update(status="FAILURE", error="x")
    third = submit(client_a, file_id=file_id, operation="dedup")
    assert third["reused"] is False and third["task_id"] != again["task_id"]


def test_a_chained_request_on_the_same_result_is_reused(client_a, ready_dataset, run_operation):
    file_id = ready_dataset(CSV)
    source = run_operation(file_id, "dedup")["task_id"]
    first = submit(client_a, task_id=source, operation="unique", column="city")
    assert run_pending(first["task_id"]) == "SUCCESS"
    again = submit(client_a, task_id=source, operation="unique", column="city")
    assert again["reused"] is True and again["task_id"] == first["task_id"]
