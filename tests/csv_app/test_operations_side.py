"""The operator's side: storage quota, retention, and what the log lines carry."""
import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from csv_app.models import Dataset, Task
from csv_app.services.datasets import datasets_purge_expired

pytestmark = pytest.mark.django_db


def test_retention_removes_old_datasets_and_results_with_their_files(client_a, ready_dataset, run_operation, settings):
    old = ready_dataset("a,b\n1,2\n")
    fresh = ready_dataset("a,b\n3,4\n")
    old_result = run_operation(fresh, "unique", column="a")["task_id"]
    new_result = run_operation(fresh, "unique", column="b")["task_id"]
    long_ago = timezone.now() - timedelta(days=40)
    Dataset.objects.filter(id=old).update(created_at=long_ago)
    Task.objects.filter(id=old_result).update(created_at=long_ago)
    settings.RETENTION_DAYS = 0
    assert datasets_purge_expired() == 0
    settings.RETENTION_DAYS = 30
    assert datasets_purge_expired() == 2
    assert not Dataset.objects.filter(id=old).exists() and not (settings.UPLOADS_DIR / old).exists()
    assert not Task.objects.filter(id=old_result).exists() and not (settings.RESULTS_DIR / old_result).exists()
    assert Task.objects.filter(id=new_result).exists() and (settings.UPLOADS_DIR / fresh).exists()


def json_line(record: logging.LogRecord) -> dict:
    """The record as the configured stderr handler writes it: through its filters and JSON formatter."""
    handler = next(h for h in logging.getLogger().handlers if h.formatter.__class__.__name__ == "JsonFormatter")
    assert handler.filter(record)
    return json.loads(handler.format(record))


def test_log_lines_are_json_with_request_and_user_ids(client_a, user, monkeypatch):
    from csv_app import logging_context

    seen = {}

    def capture(self, request):
        record = logging.LogRecord("ravid.api", logging.INFO, __file__, 1, "inside a view", None, None)
        seen.update(json_line(record))
        from rest_framework.response import Response

        return Response({})

    from csv_app.apis import accounts

    monkeypatch.setattr(accounts.MeApi, "get", capture)
    r = client_a.get("/api/me/", HTTP_X_REQUEST_ID="req-123")
    assert r["X-Request-ID"] == "req-123" and "dur=" in r["Server-Timing"]
    assert seen["message"] == "inside a view" and seen["level"] == "INFO" and seen["logger"] == "ravid.api"
    assert seen["request_id"] == "req-123" and seen["user_id"] == user.id and "timestamp" in seen
    assert logging_context.request_id.get() is None, "the request's ids do not leak into the next one"


def test_finished_task_log_line_has_operation_and_seconds(client_a, ready_dataset, caplog):
    from tests.conftest import run_pending

    file_id = ready_dataset("a,b\n1,2\n")
    task_id = client_a.post("/api/perform-operation/", {"file_id": file_id, "operation": "dedup"}, format="json").json()["task_id"]
    with caplog.at_level(logging.INFO, logger="ravid.tasks"):
        run_pending(task_id)
    record = [r for r in caplog.records if r.getMessage() == "task finished"][-1]
    line = json_line(record)
    assert line["operation"] == "dedup" and line["status"] == "SUCCESS"
    assert line["ravid_task_id"] == task_id and isinstance(line["seconds"], float)
