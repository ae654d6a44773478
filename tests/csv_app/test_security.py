"""Forged and expired tokens, other users' objects on every id-taking endpoint, media never served."""
import base64
import json
from datetime import timedelta

import jwt
import pytest
from rest_framework_simplejwt.tokens import AccessToken


pytestmark = pytest.mark.django_db


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def me(api, token: str):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api.get("/api/me/")


def test_edited_payload_is_rejected(api, user, other_user):
    token = str(AccessToken.for_user(user))
    header, _, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    payload["user_id"] = str(other_user.id)
    assert me(api, f"{header}.{b64(payload)}.{signature}").status_code == 401


def test_wrong_key_and_alg_none_are_rejected(api, user):
    claims = {"token_type": "access", "user_id": str(user.id), "jti": "x", "exp": 4102444800}
    assert me(api, jwt.encode(claims, "not-the-signing-key-but-long-enough-for-hs256", algorithm="HS256")).status_code == 401
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert me(api, unsigned).status_code == 401
    assert me(api, str(AccessToken.for_user(user))).status_code == 200


def test_expired_access_token_is_401(api, user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    r = me(api, str(token))
    assert r.status_code == 401
    assert r.json()["error"] == "The access token is invalid or expired."


def test_a_refresh_token_is_not_an_access_token(api, user):
    from rest_framework_simplejwt.tokens import RefreshToken

    assert me(api, str(RefreshToken.for_user(user))).status_code == 401


def test_every_id_endpoint_hides_other_users_objects(client_a, client_b, other_user, ready_dataset, run_operation):
    file_id = ready_dataset("a,b\n1,2\n3,4\n")
    task_id = run_operation(file_id, "unique", column="a")["task_id"]
    calls = [
        ("get", f"/api/datasets/{file_id}/", None), ("delete", f"/api/datasets/{file_id}/", None),
        ("get", f"/api/datasets/{file_id}/preview", None), ("get", f"/api/datasets/{file_id}/rows", None),
        ("post", f"/api/datasets/{file_id}/share", {"user": other_user.email}),
        ("delete", f"/api/datasets/{file_id}/share/{other_user.id}/", None),
        ("post", "/api/perform-operation/", {"file_id": file_id, "operation": "unique", "column": "a"}),
        ("post", "/api/perform-operation/", {"task_id": task_id, "operation": "unique", "column": "value"}),
        ("get", f"/api/tasks/{task_id}/", None), ("get", f"/api/task-status/?task_id={task_id}", None),
        ("get", f"/api/tasks/{task_id}/rows", None), ("get", f"/api/tasks/{task_id}/download/", None),
        ("post", f"/api/tasks/{task_id}/cancel/", None), ("delete", f"/api/tasks/{task_id}/", None),
        ("post", f"/api/tasks/{task_id}/share", {"user": other_user.email}),
        ("delete", f"/api/tasks/{task_id}/share/{other_user.id}/", None),
        ("post", f"/api/tasks/{task_id}/save-as-dataset", {}),
    ]
    for method, url, body in calls:
        r = getattr(client_b, method)(url, body, format="json")
        assert r.status_code == 404, (method, url, r.status_code)
        assert r.json() == {"error": r.json()["error"], "code": "not_found", "details": None}
    assert client_a.get(f"/api/tasks/{task_id}/").status_code == 200, "the owner still sees it"


def test_uploaded_files_are_never_served_directly(client_a, ready_dataset, api):
    file_id = ready_dataset("a,b\n1,2\n")
    for url in [f"/media/uploads/{file_id}/data.parquet", f"/_media/uploads/{file_id}/data.parquet",
                f"/uploads/{file_id}/data.parquet", f"/static/../media/uploads/{file_id}/data.parquet"]:
        assert api.get(url).status_code == 404, url
        assert client_a.get(url).status_code == 404, url


def test_a_huge_declared_upload_is_refused_from_its_header(client_a, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    r = client_a.generic("POST", "/api/upload-csv/", b"a,b\n1,2\n", content_type="text/csv",
                         HTTP_CONTENT_LENGTH=str(2 * 1024**3), CONTENT_LENGTH=str(2 * 1024**3))
    assert r.status_code == 413 and r.json()["code"] == "too_large"


@pytest.mark.parametrize("path", ["/swagger/", "/redoc/", "/admin/login/", "/api/"])
def test_pages_carry_a_content_security_policy_that_runs_scripts_from_this_site_only(api, path):
    r = api.get(path)
    assert r.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in r["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe-eval" not in r["Content-Security-Policy"]
