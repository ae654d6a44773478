"""Completion webhooks: the URL is checked (https, public addresses only, after DNS), the task's body is POSTed
when it ends, signed with the owner's secret, retried with a pause, never following a redirect; every attempt
is visible on the task."""
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from csv_app.apis.tasks import webhook_body
from csv_app.models import Task
from csv_app.services.webhooks import webhook_deliver
from tests.conftest import run_pending
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db
CSV = "city,score\nParis,3\nRome,5\nParis,7\n"


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    made = []

    def make(*statuses):
        made.append(Receiver(statuses or (200,)))
        return made[-1]

    yield make
    for r in made:
        r.close()


def submit(client, file_id, url, **params):
    return client.post("/api/perform-operation/", {"file_id": file_id, "operation": "unique", "column": "city",
                                                   "callback_url": url, **params}, format="json")


@pytest.mark.parametrize("url, why", [
    ("http://93.184.216.34/hook", "A callback URL must use https; 'http' is not allowed."),
    ("ftp://93.184.216.34/hook", "A callback URL must use https; 'ftp' is not allowed."),
    ("https://127.0.0.1/hook", "non-public address"),
    ("https://localhost:8443/hook", "non-public address"),
    ("https://10.1.2.3/hook", "non-public address"),
    ("https://169.254.169.254/latest/meta-data/", "non-public address"),
    ("https://[::1]/hook", "non-public address"),
    ("https://user:secret@93.184.216.34/hook", "may not carry a user name or password"),
    ("https://no-such-host.invalid/hook", "cannot be resolved"),
    ("https://[::1/hook", "The callback URL is not a valid URL (its host is malformed)."),  # was a 500
])
def test_a_callback_that_is_not_https_to_a_public_address_is_a_400(client_a, ready_dataset, url, why):
    r = submit(client_a, ready_dataset(CSV), url)
    assert r.status_code == 400, r.content
    assert why in r.json()["error"] and "callback_url" in r.json()["details"]
    assert not Task.objects.filter(operation="unique").exists()


def test_a_public_https_callback_is_accepted_and_shown_on_the_task(client_a, ready_dataset):
    r = submit(client_a, ready_dataset(CSV), "https://93.184.216.34/hook")
    assert r.status_code == 202
    body = client_a.get(f"/api/tasks/{r.json()['task_id']}/").json()
    assert body["webhook"] == {"url": "https://93.184.216.34/hook", "status": "waiting for the task to end",
                               "next_attempt_at": None, "deliveries": []}


def test_the_end_is_posted_signed_with_the_owners_secret(client_a, ready_dataset, receiver):
    hook = receiver(200)
    task_id = submit(client_a, ready_dataset(CSV), hook.url).json()["task_id"]
    assert run_pending(task_id) == "SUCCESS"
    assert webhook_deliver(task_id, webhook_body) == "delivered"
    [got] = hook.received
    secret = client_a.get("/api/me/webhook-secret").json()["secret"]
    expected = "sha256=" + hmac.new(secret.encode(), got["body"], hashlib.sha256).hexdigest()
    assert got["headers"]["X-Ravid-Signature"] == expected and got["path"] == "/hook?from=ravid"
    assert got["headers"]["X-Ravid-Event"] == "task.finished" and got["headers"]["X-Ravid-Delivery"] == f"{task_id}:1"
    payload = json.loads(got["body"])
    assert payload["event"] == "task.finished" and payload["task"]["task_id"] == task_id
    assert payload["task"]["status"] == "SUCCESS" and payload["task"]["result"]["row_count"] == 2
    webhook = client_a.get(f"/api/tasks/{task_id}/").json()["webhook"]
    assert webhook["status"] == "delivered" and [(d["attempt"], d["status_code"], d["error"])
                                                 for d in webhook["deliveries"]] == [(1, 200, "")]
    assert webhook_deliver(task_id, webhook_body) is None, "delivered once"


def test_a_refused_delivery_is_retried_after_a_pause_and_a_redirect_is_not_followed(client_a, ready_dataset, receiver):
    hook = receiver(500, 302, 204)
    task_id = submit(client_a, ready_dataset(CSV), hook.url).json()["task_id"]
    run_pending(task_id)
    assert webhook_deliver(task_id, webhook_body) == "pending"
    assert webhook_deliver(task_id, webhook_body) is None, "not due before its pause"
    due = Task.objects.get(id=task_id).webhook_next_at
    assert timedelta(seconds=8) < due - timezone.now() <= timedelta(seconds=10)
    for expected in ("pending", "delivered"):
        Task.objects.filter(id=task_id).update(webhook_next_at=timezone.now())
        assert webhook_deliver(task_id, webhook_body) == expected
    deliveries = client_a.get(f"/api/tasks/{task_id}/").json()["webhook"]["deliveries"]
    assert [(d["status_code"], d["error"]) for d in deliveries] == [
        (500, "the receiver answered 500"), (302, "the receiver answered 302"), (204, "")]
    assert len(hook.received) == 3, "the redirect's Location was never called"


def test_after_the_last_pause_the_webhook_is_failed(client_a, ready_dataset, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = "1"
    hook = receiver(503)
    task_id = submit(client_a, ready_dataset(CSV), hook.url).json()["task_id"]
    run_pending(task_id)
    assert webhook_deliver(task_id, webhook_body) == "pending"
    Task.objects.filter(id=task_id).update(webhook_next_at=timezone.now())
    assert webhook_deliver(task_id, webhook_body) == "failed"
    assert client_a.get(f"/api/tasks/{task_id}/").json()["webhook"]["status"] == "failed"


def test_a_failed_or_cancelled_task_is_reported_too_and_the_secret_rotates(client_a, ready_dataset, receiver):
    hook = receiver(200)
    task_id = submit(client_a, ready_dataset(CSV), hook.url).json()["task_id"]
    assert client_a.post(f"/api/tasks/{task_id}/cancel/").status_code == 202
    assert webhook_deliver(task_id, webhook_body) == "delivered"
    assert json.loads(hook.received[0]["body"])["task"]["status"] == "REVOKED"
    first = client_a.get("/api/me/webhook-secret").json()["secret"]
    rotated = client_a.post("/api/me/webhook-secret").json()["secret"]
    assert rotated != first and client_a.get("/api/me/webhook-secret").json()["secret"] == rotated
