"""A dataset is READY as soon as its table is kept; its column profile follows in a job of its own."""
import json

import pytest

from csv_app.models import Dataset
from csv_app.services.profiles import dataset_profile
from django.test import Client
from django.urls import reverse

from csv_app.services.quota import storage_used as used_bytes
from csv_app.storage import local_path
from tests.conftest import run_pending, upload

pytestmark = pytest.mark.django_db

CSV = "city,temp,day\nOslo,3.5,2024-01-01\nRome,14,2024-01-02\nOslo,-1,2024-01-03\nLima,,2024-01-04\n"


def ingested(client) -> str:
    response = upload(client, CSV)
    assert response.status_code == 201, response.content
    assert run_pending(response.json()["task_id"]) == "SUCCESS"
    return response.json()["file_id"]


def test_ready_before_its_profile_then_profiled_and_summary_reads_the_profile(client_a, user):
    file_id = ingested(client_a)
    body = client_a.get(f"/api/datasets/{file_id}/").json()
    assert body["status"] == "READY" and body["profiled"] is False
    profile_file = local_path(Dataset.objects.get(id=file_id).parquet_file).with_name("profile.json")
    assert not profile_file.exists(), "READY does not wait for the profile"
    web = Client()
    web.force_login(user)
    page = web.get(reverse("app-dataset", args=[file_id]))
    assert "still being computed" in page.content.decode()

    submitted = client_a.post("/api/perform-operation/", {"file_id": file_id, "operation": "summary"}, format="json")
    run_pending(submitted.json()["task_id"])
    before = client_a.get(f"/api/tasks/{submitted.json()['task_id']}/").json()["result"]["value"]
    assert before["temp"]["count"] == 3 and before["city"]["top"][0] == {"value": "Oslo", "count": 2}

    table_only = used_bytes(user.id)
    assert dataset_profile(file_id) == "profiled"
    assert client_a.get(f"/api/datasets/{file_id}/").json()["profiled"] is True
    assert json.loads(profile_file.read_text())["columns"] == before, "the same numbers as computed from the data"
    assert used_bytes(user.id) == table_only + profile_file.stat().st_size, "the profile counts against the quota"
    assert dataset_profile(file_id) == "skipped", "a second message for the same dataset does nothing"
    page = web.get(reverse("app-dataset", args=[file_id])).content.decode()
    assert "still being computed" not in page and "Oslo (2)" in page


def test_a_profile_for_a_deleted_dataset_keeps_nothing(client_a, user):
    file_id = ingested(client_a)
    folder = local_path(Dataset.objects.get(id=file_id).parquet_file).parent
    assert client_a.delete(f"/api/datasets/{file_id}/").status_code == 204
    assert dataset_profile(file_id) == "skipped"
    assert not folder.exists()
    assert used_bytes(user.id) == 0
