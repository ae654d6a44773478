"""Fixtures shared by the API and integration tests: users, clients, ready datasets, service checks."""
import io
import os
from pathlib import Path

import factory
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from ravid_project import embedded_broker

PASSWORD = "Tr1cky-Passw0rd!"


def redis_url(broker: str) -> str:
    """The broker URL as redis-py spells it (kombu's redis+socket:// is redis-py's unix://)."""
    from ravid_project.embedded_broker import redis_py_url

    return redis_py_url(broker) or broker


def _service_problem() -> str | None:
    """Why the configured MySQL or Redis cannot be used, or None."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("mysql"):
        try:
            import MySQLdb

            MySQLdb.connect(host=db["HOST"] or "127.0.0.1", port=int(db["PORT"] or 3306), user=db["USER"],
                            password=db["PASSWORD"] or "", connect_timeout=3).close()
        except Exception as exc:
            return f"MySQL/MariaDB at {db['HOST']}:{db['PORT']} is not reachable ({exc.__class__.__name__})"
    import redis

    broker = settings.CELERY_BROKER_URL
    try:
        redis.Redis.from_url(redis_url(broker), socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis at {broker} is not reachable ({exc.__class__.__name__})"
    return None


@pytest.fixture(scope="session", autouse=True)
def required_services():
    """On MySQL/Redis runs: fail when a service is missing and REQUIRE_SERVICES=1, skip otherwise. On the embedded
    default, start the embedded broker for this test run's MEDIA_ROOT (and stop it at the end)."""
    started = settings.EMBEDDED_BROKER and embedded_broker.start(Path(settings.MEDIA_ROOT))
    problem = _service_problem()
    if problem:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{problem}; REQUIRE_SERVICES=1 makes this a failure.", pytrace=False)
        pytest.skip(f"{problem} (set REQUIRE_SERVICES=1 to make this a failure)")
    import redis

    redis.Redis.from_url(redis_url(settings.CELERY_BROKER_URL)).flushdb()
    yield
    if started:
        embedded_broker.stop(Path(settings.MEDIA_ROOT))


@pytest.fixture(scope="session")
def big_csv(tmp_path_factory) -> Path:
    """The benchmark's deterministic CSV at 3 M rows (about 200 MB), written once per test run."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from bench_data import write_csv

    return write_csv(tmp_path_factory.mktemp("big") / "big.csv", 3_000_000)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def health_answers_now(settings):
    """Tests that stop a service expect /health/ to say so at once: no cached answer (the stack tests, which run
    the real settings, measure the cache)."""
    settings.HEALTH_CACHE_SECONDS = 0


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


def client_for(user) -> APIClient:
    from csv_app.services.accounts import tokens_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(user)['access']}")
    return client


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def client_a(user):
    return client_for(user)


@pytest.fixture
def client_b(other_user):
    return client_for(other_user)


def upload(client, text: str | bytes, name: str = "data.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    handle = io.BytesIO(data)
    handle.name = name
    return client.post("/api/upload-csv/", {"file": handle}, format="multipart")


def run_pending(task_id) -> str | None:
    """Run a queued task in this process through the same service a worker calls."""
    from csv_app.services.runner import task_execute

    return task_execute(task_id, worker="test")


@pytest.fixture
def ready_dataset(client_a):
    """Upload CSV text as the first user and ingest it, then profile it as the follow-up job does (a test's
    transaction never commits, so the follow-up is not queued); returns the dataset id."""
    from django.conf import settings

    from csv_app.services.profiles import dataset_profile

    def make(text: str, name: str = "data.csv", client=None) -> str:
        response = upload(client or client_a, text, name)
        assert response.status_code == 201, response.content
        assert run_pending(response.json()["task_id"]) == "SUCCESS"
        if settings.PROFILE_ON_INGEST:
            dataset_profile(response.json()["file_id"])
        return response.json()["file_id"]

    return make


@pytest.fixture
def run_operation(client_a):
    """Submit an operation and run it here; returns the task status body."""

    def run(file_id: str, operation: str, client=None, n: int = 100, **params):
        client = client or client_a
        response = client.post("/api/perform-operation/", {"file_id": file_id, "operation": operation, **params}, format="json")
        assert response.status_code == 202, response.content
        task_id = response.json()["task_id"]
        run_pending(task_id)
        return client.get(f"/api/tasks/{task_id}/?n={n}").json()

    return run
