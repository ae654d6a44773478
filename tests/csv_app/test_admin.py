"""The admin: datasets and tasks with filters and search, and the retry and cancel actions."""
import pytest
from django.contrib.auth import get_user_model

from csv_app.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = get_user_model().objects.create_superuser("root@example.com", "root@example.com", "Adm1n-Passw0rd!")
    client.force_login(admin)
    return client


def test_admin_lists_datasets_and_tasks_with_filters_and_search(admin_client, ready_dataset, run_operation):
    file_id = ready_dataset("a,b\n1,2\n", name="sales.csv")
    run_operation(file_id, "unique", column="a")
    r = admin_client.get("/admin/csv_app/dataset/?status__exact=READY&q=sales")
    assert r.status_code == 200 and b"sales.csv" in r.content
    r = admin_client.get("/admin/csv_app/task/?status__exact=SUCCESS&operation__exact=unique")
    assert r.status_code == 200 and b"unique" in r.content


def test_admin_cancel_and_retry_actions(admin_client, client_a, ready_dataset, monkeypatch):
    file_id = ready_dataset("a,b\n1,2\n")
    task_id = client_a.post("/api/perform-operation/", {"file_id": file_id, "operation": "dedup"}, format="json").json()["task_id"]
    r = admin_client.post("/admin/csv_app/task/", {"action": "cancel", "_selected_action": [task_id]})
    assert r.status_code == 302 and Task.objects.get(id=task_id).status == "REVOKED"
    published = []
    monkeypatch.setattr("csv_app.services.queue.publish", lambda tid, **_: published.append(tid))
    r = admin_client.post("/admin/csv_app/task/", {"action": "retry", "_selected_action": [task_id]})
    assert r.status_code == 302
    assert Task.objects.get(id=task_id).status == "PENDING" and published == [task_id]
