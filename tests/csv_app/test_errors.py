"""Every error under /api/ comes in the envelope: Django's own 404/405 and malformed bodies too."""
import json

import pytest

pytestmark = pytest.mark.django_db


def test_unknown_api_url_is_404_envelope(client_a):
    r = client_a.get("/api/no-such-thing/")
    assert r.status_code == 404
    assert r.json() == {"error": "No such endpoint or object.", "code": "not_found", "details": None}


def test_method_not_allowed_is_405_envelope(client_a):
    r = client_a.put("/api/me/")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


def test_malformed_json_is_400_envelope(client_a):
    r = client_a.generic("POST", "/api/perform-operation/", '{"file_id": ', content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "invalid"
    assert "JSON" in r.json()["error"]


def test_json_array_body_is_400(client_a):
    r = client_a.post("/api/perform-operation/", [1, 2], format="json")
    assert r.status_code == 400 and r.json()["error"] == "The body must be a JSON object."


def test_unsupported_media_type_is_415(client_a):
    r = client_a.generic("POST", "/api/perform-operation/", "<x/>", content_type="application/xml")
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"


def test_an_unexpected_exception_is_a_500_envelope_without_traceback(client_a, monkeypatch):
    from csv_app.apis import accounts

    def boom(self, request):
        raise RuntimeError("secret /etc/passwd SELECT * FROM x")

    monkeypatch.setattr(accounts.MeApi, "get", boom)
    r = client_a.get("/api/me/")
    assert r.status_code == 500
    assert r.json() == {"error": "Something went wrong on our side; the error has been logged.", "code": "server_error", "details": None}


@pytest.mark.parametrize("method", ["delete", "post", "put", "patch"])
def test_unmatched_api_paths_answer_404_in_the_envelope_for_every_method(client_a, method):
    r = getattr(client_a, method)("/api/datasets/x/share/not-a-number/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_csrf_failures_come_in_the_envelope(rf):
    from csv_app.errors import csrf_failure_view

    r = csrf_failure_view(rf.post("/admin/login/"), reason="CSRF cookie not set.")
    assert r.status_code == 403 and json.loads(r.content)["code"] == "permission_denied"


def test_a_host_that_is_not_allowed_gets_a_400_naming_allowed_hosts(api):
    r = api.get("/health/", HTTP_HOST="ravid.example.org")
    assert r.status_code == 400
    assert r.json()["error"] == ("The host 'ravid.example.org' is not served here: it is not in ALLOWED_HOSTS. "
                                 "Set ALLOWED_HOSTS (comma-separated) to the names clients use for this server.")


def test_inputs_that_once_gave_500s_are_400s(client_a, ready_dataset, run_operation):
    """A page past 64 bits, a filter value of 40 nines, a body nested 50,000 levels, a TeX-looking title."""
    file_id = ready_dataset("id,label\n1,a\n2,b\n")
    r = client_a.get(f"/api/datasets/{file_id}/rows?page=99999999999999999999999")
    assert r.status_code == 400 and "page" in r.json()["details"]
    body = run_operation(file_id, "filter", filters=[{"column": "id", "operator": "gt", "value": int("9" * 40)}])
    assert body["status"] == "SUCCESS" and body["result"]["row_count"] == 0
    body = run_operation(file_id, "filter", filters=[{"column": "id", "operator": "lt", "value": "9" * 40}])
    assert body["status"] == "SUCCESS" and body["result"]["row_count"] == 2
    deep = "[" * 50_000 + "]" * 50_000
    r = client_a.generic("POST", "/api/perform-operation/", deep, content_type="application/json")
    assert r.status_code == 400 and r.json()["error"] == "The JSON body is nested too deeply; at most 32 levels are allowed."
    chart = run_operation(file_id, "chart", kind="bar", x="label", y="id", title="$\\frac{1}{$ costs $5")
    assert chart["status"] == "SUCCESS", chart
    assert chart["result"]["formats"] == ["png"]  # a picture only


def test_refreshing_the_token_of_a_deleted_user_is_401(api, user):
    from tests.conftest import PASSWORD

    tokens = api.post("/api/login/", {"email": user.email, "password": PASSWORD}, format="json").json()
    user.delete()
    r = api.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert r.status_code == 401 and r.json()["code"] == "authentication_failed"


def test_bounds_on_what_one_request_may_ask(client_a, ready_dataset, settings):
    """Inputs that cost the server more than the client: each bound is a 4xx that names it."""
    from tests.conftest import upload

    r = upload(client_a, "id," + "x" * 300 + "\n1,2\n")
    assert r.status_code == 400
    assert r.json()["error"] == "The name of column 2 is 300 characters long; at most 256 are allowed."
    file_id = ready_dataset("id,team\n1,a\n2,b\n")
    many = {"file_id": file_id, "operation": "filter",
            "filters": [{"column": "id", "operator": "in", "value": list(range(10_001))}]}
    r = client_a.post("/api/perform-operation/", many, format="json")
    assert r.status_code == 400 and "takes at most 10000 values; 10001 were given" in r.json()["error"]
    big = client_a.generic("POST", "/api/perform-operation/", '{"pad": "' + "x" * (1024 * 1024) + '"}',
                           content_type="application/json")
    assert big.status_code == 413 and "MAX_JSON_BODY_BYTES" in big.json()["error"]
    settings.USER_MAX_QUEUED = 2
    for column in ("id", "team"):
        assert client_a.post("/api/perform-operation/", {"file_id": file_id, "operation": "unique", "column": column},
                             format="json").status_code == 202
    r = client_a.post("/api/perform-operation/", {"file_id": file_id, "operation": "dedup"}, format="json")
    assert r.status_code == 429 and r.json()["code"] == "throttled"
    assert r.json()["error"].startswith("You have 2 jobs queued or running; at most 2 may be at once")
