"""Quotas over every byte kept for a user: uploads and their tables, results, export copies, saved datasets;
checked and counted in one step, so nothing can slip past the quota; reported by /api/me/."""
import threading
from pathlib import Path

import pytest
from django.db import connections

from csv_app.models import Dataset, Task
from csv_app.services.quota import folder_bytes, reserve, storage_used
from csv_app.storage import dataset_dir, result_dir
from tests.conftest import run_pending, upload

pytestmark = pytest.mark.django_db
ROWS = "a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(2000))


def used(client) -> int:
    return client.get("/api/me/").json()["storage_used_bytes"]


def on_disk(user) -> int:
    """Every byte kept for the user, as the disk has it (a result's link to its dataset's table counted once)."""
    return (sum(folder_bytes(dataset_dir(d)) for d in Dataset.objects.filter(owner=user).values_list("id", flat=True))
            + sum(folder_bytes(result_dir(t), own_only=True)
                  for t in Task.objects.filter(owner=user).values_list("id", flat=True)))


def test_me_reports_every_kept_byte_and_deleting_gives_them_back(client_a, user, ready_dataset, run_operation):
    assert client_a.get("/api/me/").json()["storage_quota_bytes"] is None
    file_id = ready_dataset(ROWS)
    after_upload = used(client_a)
    assert after_upload == on_disk(user) > 0, "the table and profile, not the CSV that was parsed and removed"
    dedup = run_operation(file_id, "dedup", columns=["b"])["task_id"]
    chart = run_operation(file_id, "chart", kind="bar", x="b", y="a", agg="sum")["task_id"]
    assert used(client_a) == on_disk(user) > after_upload
    assert client_a.get(f"/api/tasks/{dedup}/download/?format=json").status_code == 200
    assert used(client_a) == on_disk(user), "the export copy counts"
    assert client_a.delete(f"/api/tasks/{chart}/").status_code == 204
    assert used(client_a) == on_disk(user)
    assert client_a.delete(f"/api/datasets/{file_id}/").status_code == 204
    assert used(client_a) == 0


def test_an_upload_past_the_quota_is_413_saying_what_is_used(client_a, ready_dataset, settings):
    ready_dataset(ROWS)
    kept = used(client_a)
    settings.USER_QUOTA_BYTES = kept + 100
    r = upload(client_a, ROWS)
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert r.json()["error"] == (f"This upload ({len(ROWS)} bytes) would take you past your storage quota: you use "
                                 f"{kept} of {kept + 100} bytes. Delete datasets or results you no longer need.")
    assert Dataset.objects.count() == 1 and used(client_a) == kept
    assert client_a.get("/api/me/").json()["storage_quota_bytes"] == kept + 100


def test_a_job_whose_result_would_pass_the_quota_fails_clearly_and_keeps_nothing(client_a, ready_dataset, settings,
                                                                               run_operation):
    file_id = ready_dataset(ROWS)
    kept = used(client_a)
    settings.USER_QUOTA_BYTES = kept + 10
    body = run_operation(file_id, "unique", column="a")
    assert body["status"] == "FAILURE"
    assert body["error"].startswith("The result (") and body["error"].endswith(
        f"bytes) would take you past your storage quota: you use {kept} of {kept + 10} bytes. "
        "Delete datasets or results you no longer need.")
    assert not result_dir(body["task_id"]).exists() and used(client_a) == kept


def test_a_download_with_no_room_for_its_copy_is_sent_and_not_kept(client_a, ready_dataset, settings, run_operation):
    file_id = ready_dataset(ROWS)
    task_id = run_operation(file_id, "unique", column="a")["task_id"]
    kept = used(client_a)
    settings.USER_QUOTA_BYTES = kept + 10
    for _ in range(3):
        r = client_a.get(f"/api/tasks/{task_id}/download/?format=csv")
        assert r.status_code == 200
        assert b"".join(r.streaming_content).decode().splitlines()[:2] == ['"value","count"', "0,1"]
    assert used(client_a) == kept and not (result_dir(task_id) / "attempt-1" / "export.csv").exists()
    settings.USER_QUOTA_BYTES = kept + 10**6
    assert client_a.get(f"/api/tasks/{task_id}/download/?format=csv").status_code == 200
    assert used(client_a) > kept and (result_dir(task_id) / "attempt-1" / "export.csv").exists()


def test_saving_a_result_as_a_dataset_past_the_quota_fails_clearly_and_keeps_nothing(client_a, ready_dataset,
                                                                                    settings, run_operation):
    file_id = ready_dataset(ROWS)
    task_id = run_operation(file_id, "dedup", columns=["b"])["task_id"]
    kept = used(client_a)
    settings.USER_QUOTA_BYTES = kept + 10
    r = client_a.post(f"/api/tasks/{task_id}/save-as-dataset", {"name": "mine"}, format="json")
    assert r.status_code == 201
    assert run_pending(r.json()["task_id"]) == "FAILURE"
    dataset = client_a.get(f"/api/datasets/{r.json()['file_id']}/").json()
    assert dataset["status"] == "FAILED" and dataset["error"].startswith("The dataset (")
    assert dataset["error"].endswith(f"would take you past your storage quota: you use {kept} of {kept + 10} bytes. "
                                     "Delete datasets or results you no longer need.")
    assert used(client_a) == kept and not any(dataset_dir(r.json()["file_id"]).glob("*.parquet"))
    settings.USER_QUOTA_BYTES = kept
    r = client_a.post(f"/api/tasks/{task_id}/save-as-dataset", {"name": "mine"}, format="json")
    assert r.status_code == 413 and r.json()["error"] == (
        f"Saving this result as a dataset would take you past your storage quota: you use {kept} of {kept} bytes. "
        "Delete datasets or results you no longer need.")
    settings.USER_QUOTA_BYTES = 0
    r = client_a.post(f"/api/tasks/{task_id}/save-as-dataset", {"name": "mine"}, format="json")
    assert r.status_code == 201 and run_pending(r.json()["task_id"]) == "SUCCESS"
    assert used(client_a) == on_disk(Dataset.objects.get(id=r.json()["file_id"]).owner) > kept
    saved = client_a.get(f"/api/datasets/{r.json()['file_id']}/").json()  # its size: its table's, not 0
    assert saved["size_bytes"] == sum(f.stat().st_size for f in dataset_dir(r.json()["file_id"]).iterdir()) > 0


@pytest.mark.django_db(transaction=True)
def test_racing_reservations_never_pass_the_quota(user, settings):
    settings.USER_QUOTA_BYTES = 55
    results: list[bool] = []
    start = threading.Barrier(12)

    def take() -> None:
        try:
            start.wait()
            results.append(reserve(user.id, 10))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 5 and storage_used(user.id) == 50


def test_a_grantees_download_counts_against_the_owner_of_the_result(client_a, client_b, other_user, user,
                                                                     ready_dataset, run_operation):
    file_id = ready_dataset(ROWS)
    task_id = run_operation(file_id, "dedup", columns=["b"])["task_id"]
    assert client_a.post(f"/api/tasks/{task_id}/share", {"user": other_user.email}, format="json").status_code == 201
    before = used(client_a)
    assert client_b.get(f"/api/tasks/{task_id}/download/?format=csv").status_code == 200
    assert used(client_b) == 0 and used(client_a) > before


def test_ingest_counts_the_table_not_the_upload(client_a, user):
    r = upload(client_a, ROWS)
    assert used(client_a) == len(ROWS), "counted as it arrives"
    run_pending(r.json()["task_id"])
    assert used(client_a) == on_disk(user) and Path(dataset_dir(r.json()["file_id"])).exists()
