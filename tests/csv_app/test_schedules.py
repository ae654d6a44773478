"""Recurring jobs: created from an operation request plus when (cron with a timezone, or every N seconds) as
django-celery-beat entries; paused, resumed, deleted; each run an ordinary task; bad input a 400 naming the field."""
import pytest
from django_celery_beat.models import PeriodicTask

from csv_app.models import Schedule, Task
from csv_app.services.schedules import schedule_run
from tests.conftest import run_pending

pytestmark = pytest.mark.django_db
CSV = "city,score\nParis,3\nRome,5\nParis,7\n"


def create(client, **body):
    return client.post("/api/schedules/", body, format="json")


def test_a_cron_schedule_is_a_beat_entry_in_its_timezone(client_a, ready_dataset):
    file_id = ready_dataset(CSV)
    r = create(client_a, file_id=file_id, operation="unique", column="city", cron="30 6 * * 1-5",
               timezone="Europe/Paris")
    assert r.status_code == 201, r.content
    body = r.json()
    assert {k: body[k] for k in ("operation", "parameters", "file_id", "cron", "timezone", "every", "enabled")} == {
        "operation": "unique", "parameters": {"column": "city"}, "file_id": file_id, "cron": "30 6 * * 1-5",
        "timezone": "Europe/Paris", "every": None, "enabled": True}
    assert body["runs_url"] == f"/api/schedules/{body['id']}/runs/"
    entry = PeriodicTask.objects.get(ravid_schedule__id=body["id"])
    assert entry.task == "csv_app.tasks.run_schedule" and entry.args == f'["{body["id"]}"]' and entry.enabled
    cron = entry.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.month_of_year, cron.day_of_week, str(cron.timezone)) == (
        "30", "6", "*", "*", "1-5", "Europe/Paris")


def test_an_every_schedule_is_an_interval(client_a, ready_dataset):
    r = create(client_a, file_id=ready_dataset(CSV), operation="unique", column="city", every=3600)
    assert r.status_code == 201 and r.json()["every"] == 3600 and r.json()["cron"] == ""
    assert PeriodicTask.objects.get(ravid_schedule__id=r.json()["id"]).interval.every == 3600


@pytest.mark.parametrize("when, field, error", [
    ({}, "cron", "Give either 'cron' (five fields, with an optional 'timezone') or 'every'"),
    ({"cron": "0 6 * * *", "every": 60}, "cron", "Give either 'cron'"),
    ({"cron": "0 6 * *"}, "cron", "A cron schedule has five fields (minute hour day-of-month month day-of-week); '0 6 * *' has 4."),
    ({"cron": "99 6 * * *"}, "cron", "The cron line '99 6 * * *' is not valid: Invalid end range: 99 > 59."),
    ({"cron": "0 6 * * *", "timezone": "Mars/Olympus"}, "timezone", "Unknown timezone 'Mars/Olympus'"),
    ({"every": 30}, "every", "'every' is at least 60 seconds; 30 was given."),
    ({"every": "often"}, "every", "A valid integer is required."),
])
def test_a_bad_when_is_a_400_naming_the_field(client_a, ready_dataset, when, field, error):
    r = create(client_a, file_id=ready_dataset(CSV), operation="unique", column="city", **when)
    assert r.status_code == 400, r.content
    assert field in r.json()["details"] and error in r.json()["error"] + " ".join(r.json()["details"][field])
    assert not r.json()["error"].endswith("..")
    assert not Schedule.objects.exists() and not PeriodicTask.objects.filter(name__startswith="ravid").exists()


def test_the_operation_is_checked_as_a_submit_is(client_a, ready_dataset):
    file_id = ready_dataset(CSV)
    r = create(client_a, file_id=file_id, operation="unique", column="nope", every=60)
    assert r.status_code == 400 and "column" in r.json()["details"]
    r = create(client_a, file_id="00000000-0000-0000-0000-000000000000", operation="unique", column="city", every=60)
    assert r.status_code == 404


def test_each_run_is_a_fresh_task_of_the_owner_listed_under_the_schedule(client_a, user, ready_dataset):
    schedule_id = create(client_a, file_id=ready_dataset(CSV), operation="unique", column="city", every=60).json()["id"]
    first = schedule_run(schedule_id)
    assert first.owner_id == user.id and first.schedule_id is not None
    assert run_pending(first.id) == "SUCCESS"
    second = schedule_run(schedule_id)
    assert second.id != first.id, "a run computes again: the data behind a schedule is what it is each time"
    runs = client_a.get(f"/api/schedules/{schedule_id}/runs/").json()
    assert [t["task_id"] for t in runs["results"]] == [str(second.id), str(first.id)]
    assert client_a.get(f"/api/schedules/{schedule_id}/").json()["last_run_at"] is not None


def test_pause_resume_delete(client_a, ready_dataset):
    schedule_id = create(client_a, file_id=ready_dataset(CSV), operation="unique", column="city", every=60).json()["id"]
    paused = client_a.post(f"/api/schedules/{schedule_id}/pause/").json()
    assert paused["enabled"] is False and paused["paused_reason"] == "Paused by its owner."
    assert PeriodicTask.objects.get(ravid_schedule__id=schedule_id).enabled is False
    assert schedule_run(schedule_id) is None, "a paused schedule does not run"
    resumed = client_a.post(f"/api/schedules/{schedule_id}/resume/").json()
    assert resumed["enabled"] is True and resumed["paused_reason"] == ""
    run = schedule_run(schedule_id)
    assert client_a.delete(f"/api/schedules/{schedule_id}/").status_code == 204
    assert not PeriodicTask.objects.filter(name=f"ravid schedule {schedule_id}").exists()
    assert Task.objects.get(id=run.id).schedule_id is None, "its runs stay, as tasks"


def test_a_schedule_whose_dataset_is_deleted_is_paused_with_the_reason(client_a, ready_dataset):
    file_id = ready_dataset(CSV, name="sales.csv")
    schedule_id = create(client_a, file_id=file_id, operation="unique", column="city", every=60).json()["id"]
    assert client_a.delete(f"/api/datasets/{file_id}/").status_code == 204
    body = client_a.get(f"/api/schedules/{schedule_id}/").json()
    assert body["enabled"] is False and body["file_id"] is None
    assert body["paused_reason"] == "The dataset 'sales.csv' this schedule read was deleted."
    r = client_a.post(f"/api/schedules/{schedule_id}/resume/")
    assert r.status_code == 409 and "The dataset 'sales.csv' this schedule read was deleted." in r.json()["error"]


def test_a_schedule_whose_share_was_revoked_pauses_at_its_next_run(client_a, client_b, other_user, ready_dataset):
    file_id = ready_dataset(CSV)
    assert client_a.post(f"/api/datasets/{file_id}/share", {"user": other_user.email}, format="json").status_code == 201
    schedule_id = create(client_b, file_id=file_id, operation="unique", column="city", every=60).json()["id"]
    run = schedule_run(schedule_id)
    assert run_pending(run.id) == "SUCCESS"
    assert [t["task_id"] for t in client_b.get(f"/api/schedules/{schedule_id}/runs/").json()["results"]] == [str(run.id)]
    assert client_a.delete(f"/api/datasets/{file_id}/share/{other_user.id}/").status_code == 204
    assert schedule_run(schedule_id) is None
    body = client_b.get(f"/api/schedules/{schedule_id}/").json()
    assert body["enabled"] is False and body["paused_reason"] == "You can no longer read this schedule's dataset."
    # Its runs over the dataset went with the share (their values, a summary's or a correlation's, were readable
    # here after the task itself was a 404).
    assert client_b.get(f"/api/schedules/{schedule_id}/runs/").json()["results"] == []
    assert client_b.get(f"/api/tasks/{run.id}/").status_code == 404


def test_a_schedule_on_a_result_shared_without_its_dataset_runs(client_a, client_b, other_user, ready_dataset):
    """Its first run looked the dataset up, which was not shared: it paused at once saying it could not read it."""
    file_id = ready_dataset(CSV)
    source = client_a.post("/api/perform-operation/", {"file_id": file_id, "operation": "unique", "column": "city"},
                           format="json").json()["task_id"]
    assert run_pending(source) == "SUCCESS"
    assert client_a.post(f"/api/tasks/{source}/share", {"user": other_user.email}, format="json").status_code == 201
    schedule_id = create(client_b, task_id=source, operation="top", by="count", agg="count", every=60).json()["id"]
    run = schedule_run(schedule_id)
    assert run is not None and run_pending(run.id) == "SUCCESS"
    assert client_b.get(f"/api/schedules/{schedule_id}/").json()["enabled"] is True
    assert [t["task_id"] for t in client_b.get(f"/api/schedules/{schedule_id}/runs/").json()["results"]] == [str(run.id)]
    assert client_a.delete(f"/api/tasks/{source}/share/{other_user.id}/").status_code == 204
    assert schedule_run(schedule_id) is None
    assert client_b.get(f"/api/schedules/{schedule_id}/").json()["paused_reason"] == \
        "You can no longer read the task result this schedule reads."


def test_another_users_schedule_is_a_404_and_the_count_is_capped(client_a, client_b, ready_dataset, settings):
    file_id = ready_dataset(CSV)
    schedule_id = create(client_a, file_id=file_id, operation="unique", column="city", every=60).json()["id"]
    for method, path in [("get", ""), ("delete", ""), ("post", "pause/"), ("post", "resume/"), ("get", "runs/")]:
        r = getattr(client_b, method)(f"/api/schedules/{schedule_id}/{path}")
        assert r.status_code == 404, (method, path)
    assert client_b.get("/api/schedules/").json()["count"] == 0
    settings.USER_MAX_SCHEDULES = 2
    assert create(client_a, file_id=file_id, operation="unique", column="score", every=60).status_code == 201
    r = create(client_a, file_id=file_id, operation="top", by="city", agg="count", every=60)
    assert r.status_code == 429
    assert r.json()["error"] == "You have 2 schedules; at most 2 (USER_MAX_SCHEDULES). Delete one you no longer need."
