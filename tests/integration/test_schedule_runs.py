"""A schedule run for real: beat (django-celery-beat's database scheduler) sends run_schedule when the entry is due,
a worker submits the operation, and the run's task succeeds with the right answer."""
import time

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from tests.integration.conftest import ROOT, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_beat_runs_a_due_schedule_on_a_real_worker(start_worker, api_user, tmp_path):
    import subprocess
    import sys

    start_worker()
    r = api_user.post("/api/upload-csv/?name=cities.csv", data=b"city\nParis\nRome\nParis\n",
                      headers={"Content-Type": "text/csv"})
    assert api_user.wait(r.json()["task_id"])[0]["status"] == "SUCCESS"
    created = api_user.post("/api/schedules/", json={"file_id": r.json()["file_id"], "operation": "unique",
                                                     "column": "city", "every": 3600})
    assert created.status_code == 201, created.text
    schedule = created.json()
    # Due now: as if its last run was an hour and a minute ago (beat would otherwise wait the hour).
    PeriodicTask.objects.filter(name=f"ravid schedule {schedule['id']}").update(
        last_run_at=timezone.now() - timezone.timedelta(seconds=3660))
    log = open(tmp_path / "beat.log", "wb")
    beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "ravid_project", "beat", "-l", "info",
                             "--pidfile=", "-s", str(tmp_path / "beat-schedule")],
                            cwd=ROOT, env=worker_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, runs = time.monotonic() + 60, []
        while time.monotonic() < deadline and not runs:
            runs = api_user.get(schedule["runs_url"]).json()["results"]
            time.sleep(0.3)
    finally:
        beat.terminate()
        beat.wait(timeout=20)
    assert len(runs) == 1, (tmp_path / "beat.log").read_text()[-2000:]
    body, _ = api_user.wait(runs[0]["task_id"])
    assert body["status"] == "SUCCESS"
    assert body["result"]["data"] == [{"value": "Paris", "count": 2}, {"value": "Rome", "count": 1}]
    assert api_user.get(f"/api/schedules/{schedule['id']}/").json()["last_run_at"] is not None
