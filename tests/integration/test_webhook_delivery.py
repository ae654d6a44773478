"""A completion webhook for real: a worker runs the task, then delivers its body to a receiver on 127.0.0.1
(private addresses allowed for this test only), signed with the owner's secret; a refusal is retried."""
import hashlib
import hmac
import json
import time

import pytest

from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_worker_delivers_the_signed_completion_and_retries_a_refusal(start_worker, api_user, settings):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = True  # the live server checks the URL
    hook = Receiver((500, 200))
    try:
        start_worker(WEBHOOK_ALLOW_HTTP="true", WEBHOOK_ALLOW_PRIVATE="true", WEBHOOK_RETRY_DELAYS="1,1")
        r = api_user.post("/api/upload-csv/?name=c.csv", data=b"city\nParis\nRome\nParis\n",
                          headers={"Content-Type": "text/csv"})
        file_id = r.json()["file_id"]
        assert api_user.wait(r.json()["task_id"])[0]["status"] == "SUCCESS"
        submitted = api_user.post("/api/perform-operation/", json={"file_id": file_id, "operation": "unique",
                                                                   "column": "city", "callback_url": hook.url})
        assert submitted.status_code == 202, submitted.text
        task_id = submitted.json()["task_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(hook.received) < 2:
            time.sleep(0.1)
        assert len(hook.received) == 2, hook.received
        secret = api_user.get("/api/me/webhook-secret").json()["secret"]
        for got in hook.received:
            assert got["headers"]["X-Ravid-Signature"] == \
                "sha256=" + hmac.new(secret.encode(), got["body"], hashlib.sha256).hexdigest()
        payload = json.loads(hook.received[-1]["body"])
        assert payload["task"]["task_id"] == task_id and payload["task"]["status"] == "SUCCESS"
        assert payload["task"]["result"]["file_link"].startswith(api_user.base + "/api/tasks/")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            webhook = api_user.get(f"/api/tasks/{task_id}/").json()["webhook"]
            if webhook["status"] == "delivered":
                break
            time.sleep(0.1)
        assert [d["status_code"] for d in webhook["deliveries"]] == [500, 200]
    finally:
        hook.close()
