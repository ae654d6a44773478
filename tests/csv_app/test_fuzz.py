"""Property-based fuzzing of every documented endpoint (schemathesis over /swagger.json): never a 5xx."""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ravid_project.wsgi import application

schema = schemathesis.openapi.from_wsgi("/swagger.json", application)


@pytest.fixture(autouse=True)
def connection_kept_open():
    """Like Django's test client: the test's transaction must survive each request's end."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db):
    from csv_app.services.accounts import tokens_for
    from tests.conftest import UserFactory

    return tokens_for(UserFactory())["access"]


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_endpoint_answers_with_a_server_error(case, token):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "code", "details"}, body
        assert "Traceback" not in response.text and "/work/" not in response.text


# --- the extremes random generation rarely reaches, sent to every documented operation --------------------------

OPERATIONS = [result.ok() for result in schema.get_all_operations()]
HUGE = [2**63, 2**64 + 1, -(2**63) - 1, 10**40]


def _real_ids(client_a, ready_dataset, run_operation, other_user) -> dict:
    file_id = ready_dataset("a,b\n1,2\n3,4\n")
    schedule = client_a.post("/api/schedules/", {"file_id": file_id, "operation": "dedup", "every": 3600}, format="json")
    return {"dataset_id": file_id, "task_id": run_operation(file_id, "dedup")["task_id"], "user_id": other_user.id,
            "schedule_id": schedule.json()["id"]}


@pytest.mark.django_db
@pytest.mark.parametrize("operation", [op for op in OPERATIONS if any(
    p.location.value == "query" and p.definition.get("type") == "integer" for p in op.iter_parameters())],
    ids=lambda op: f"{op.method} {op.path}")
def test_integers_past_64_bits_are_a_400_naming_the_parameter(operation, client_a, ready_dataset, run_operation,
                                                              other_user):
    ids = _real_ids(client_a, ready_dataset, run_operation, other_user)
    path = operation.path.format(**ids)
    for p in operation.iter_parameters():
        if p.location.value != "query" or p.definition.get("type") != "integer":
            continue
        for value in HUGE:
            query = {p.name: value, **({"task_id": ids["task_id"]} if "task-status" in path else {})}
            r = client_a.generic(operation.method.upper(), path, QUERY_STRING="&".join(f"{k}={v}" for k, v in query.items()))
            assert r.status_code == 400, f"{operation.method} {path}?{p.name}={value} -> {r.status_code}"
            assert p.name in r.json()["details"], r.json()


@pytest.mark.django_db
@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.body.items], ids=lambda op: f"{op.method} {op.path}")
def test_a_json_body_nested_past_the_limit_is_a_400_on_every_operation_that_takes_one(operation, client_a,
                                                                                      ready_dataset, run_operation,
                                                                                      other_user):
    path = operation.path.format(**_real_ids(client_a, ready_dataset, run_operation, other_user))
    deep = "[" * 50_000 + "]" * 50_000
    r = client_a.generic("POST", path, deep, content_type="application/json")
    assert r.status_code in (400, 415), f"{path} -> {r.status_code}: {r.content[:200]}"
    assert set(r.json()) == {"error", "code", "details"}
