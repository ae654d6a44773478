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
