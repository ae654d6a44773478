"""Health answers 503 when a dependency is down; Swagger documents every endpoint; the deploy checks pass."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ravid_project.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_health_is_503_when_the_broker_is_down(api, monkeypatch):
    from kombu import Connection

    unreachable = lambda *args, **kwargs: Connection("redis://127.0.0.1:1/0", connect_timeout=0.5)  # noqa: E731
    monkeypatch.setattr(celery_app, "connection_for_write", unreachable)
    r = api.get("/health/")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
    assert r.json()["checks"]["broker"] == "unavailable" and r.json()["checks"]["database"] == "ok"
    assert r.json()["checks"]["workers"] == 0


def test_health_is_503_when_the_database_is_down(api, monkeypatch):
    from csv_app.apis import health

    def broken_cursor(*args, **kwargs):
        from django.db.utils import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    monkeypatch.setattr(health, "check_broker", lambda: "ok")
    monkeypatch.setattr(health, "count_workers", lambda: 0)
    r = api.get("/health/")
    assert r.status_code == 503 and r.json()["checks"]["database"] == "unavailable"


def test_swagger_documents_every_endpoint_with_the_bearer_scheme(api):
    r = api.get("/swagger.json", HTTP_HOST="localhost")
    assert r.status_code == 200
    schema = r.json()
    assert schema["securityDefinitions"]["Bearer"]["in"] == "header"
    paths = set(schema["paths"])
    for path in [
        "/api/register/", "/api/login/", "/api/token/", "/api/token/refresh/", "/api/logout/", "/api/me/",
        "/api/upload-csv/", "/api/datasets/", "/api/datasets/{dataset_id}/", "/api/datasets/{dataset_id}/preview",
        "/api/datasets/{dataset_id}/rows", "/api/datasets/{dataset_id}/share", "/api/datasets/{dataset_id}/share/{user_id}/",
        "/api/perform-operation/", "/api/task-status/", "/api/tasks/", "/api/tasks/{task_id}/", "/api/tasks/{task_id}/rows",
        "/api/tasks/{task_id}/download/", "/api/tasks/{task_id}/cancel/", "/api/tasks/{task_id}/share",
        "/api/tasks/{task_id}/save-as-dataset", "/health/",
    ]:
        assert path in paths, path
    operations = schema["paths"]["/api/perform-operation/"]["post"]
    for name in ["dedup", "unique", "filter", "summary", "statistics", "correlation", "trend", "top", "chart"]:
        assert f"`{name}`" in operations["description"]
    for url in ["/swagger/", "/redoc/"]:
        assert api.get(url, HTTP_HOST="localhost").status_code == 200


def test_manage_check_deploy_passes_with_production_settings(tmp_path):
    env = dict(os.environ, DEBUG="false", SECRET_KEY="x" * 20 + "-production-secret-key-of-some-length-0123456789",
               HTTPS="true", ALLOWED_HOSTS="ravid.example.com", MEDIA_ROOT=str(tmp_path))
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_a_web_process_makes_its_duckdb_as_it_starts(tmp_path):
    """The first rows request must not pay for creating the engine (the deep-page bar is 50 ms)."""
    code = ("import ravid_project.wsgi\nfrom analytics_app.engine import sql\nimport os\n"
            "print(sorted(pid for pid, _ in sql._process_db) == [os.getpid()])")
    env = dict(os.environ, MEDIA_ROOT=str(tmp_path))
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "True", done.stdout + done.stderr


def test_a_web_process_imports_its_views_and_token_backend_as_it_starts(tmp_path):
    """Django imports the URLconf on a process's first request, and simplejwt its backend on the first token: 0.7 s
    to 1.5 s that a user's first request to each web process (an upload, say) waited for."""
    code = ("import sys\nbefore = {'csv_app.apis.datasets', 'rest_framework_simplejwt.state'} & set(sys.modules)\n"
            "import ravid_project.wsgi\n"
            "print(sorted(before), 'csv_app.apis.datasets' in sys.modules, 'rest_framework_simplejwt.state' in sys.modules)")
    env = dict(os.environ, MEDIA_ROOT=str(tmp_path))
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "[] True True", done.stdout + done.stderr
