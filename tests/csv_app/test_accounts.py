"""Register, login, tokens, refresh rotation, logout, /me, lockout — as the contract says."""
import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def register(api, **body):
    return api.post("/api/register/", body, format="json")


def test_register_then_login_with_email_and_username(api):
    r = register(api, email="ann@example.com", password=PASSWORD, confirm_password=PASSWORD)
    assert r.status_code == 201
    assert r.json()["message"] == "Registration successful"
    assert isinstance(r.json()["user_id"], int)
    r = api.post("/api/login/", {"email": "ann@example.com", "password": PASSWORD}, format="json")
    assert r.status_code == 200 and r.json()["message"] == "Login successful"
    assert set(r.json()) == {"message", "access", "refresh"}
    r = api.post("/api/login/", {"username": "ann@example.com", "password": PASSWORD})  # form data
    assert r.status_code == 200


def test_register_accepts_form_data_and_a_username(api):
    r = api.post("/api/register/", {"email": "bo@example.com", "password": PASSWORD, "username": "bo"})
    assert r.status_code == 201
    r = api.post("/api/token/", {"username": "bo", "password": PASSWORD}, format="json")
    assert r.status_code == 200 and set(r.json()) == {"access", "refresh"}


@pytest.mark.parametrize(
    "body,field",
    [
        ({"email": "x@example.com", "password": "123"}, "password"),
        ({"email": "x@example.com", "password": "password"}, "password"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "x@example.com", "password": PASSWORD, "confirm_password": "other"}, "confirm_password"),
        ({"password": PASSWORD}, "email"),
    ],
)
def test_register_rejections_name_the_field(api, body, field):
    r = register(api, **body)
    assert r.status_code == 400
    assert r.json()["code"] == "invalid"
    assert field in r.json()["details"]


def test_duplicate_email_is_400(api, user):
    r = register(api, email=user.email.upper(), password=PASSWORD)
    assert r.status_code == 400
    assert "already exists" in r.json()["error"]


def test_wrong_password_is_401_in_the_envelope(api, user):
    r = api.post("/api/login/", {"email": user.email, "password": "wrong-one"}, format="json")
    assert r.status_code == 401
    assert r.json() == {"error": "Invalid email or password", "code": "authentication_failed", "details": None}


def test_repeated_failed_logins_are_throttled(api, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert api.post("/api/login/", {"email": user.email, "password": "nope"}, format="json").status_code == 401
    r = api.post("/api/login/", {"email": user.email, "password": "nope"}, format="json")
    assert r.status_code == 429
    assert r.json()["code"] == "throttled"
    r = api.post("/api/login/", {"email": user.email, "password": PASSWORD}, format="json")
    assert r.status_code == 429, "a locked-out account stays locked even with the right password"


def test_refresh_rotates_and_blacklists_the_old_token(api, user):
    tokens = api.post("/api/token/", {"email": user.email, "password": PASSWORD}, format="json").json()
    r = api.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert r.status_code == 200 and set(r.json()) == {"access", "refresh"}
    assert r.json()["refresh"] != tokens["refresh"]
    again = api.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401
    assert again.json()["code"] == "authentication_failed"


def test_logout_kills_the_refresh_token(api, user):
    tokens = api.post("/api/login/", {"email": user.email, "password": PASSWORD}, format="json").json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api.post("/api/logout/", {"refresh": tokens["refresh"]}, format="json").status_code == 200
    assert api.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_me(client_a, user):
    r = client_a.get("/api/me/")
    assert r.status_code == 200
    assert r.json()["id"] == user.id and r.json()["email"] == user.email
    assert set(r.json()) == {"id", "username", "email", "date_joined", "storage_used_bytes", "storage_quota_bytes"}
    assert r.json()["storage_used_bytes"] == 0 and r.json()["storage_quota_bytes"] is None


@pytest.mark.parametrize(
    "header",
    [None, "Bearer not-a-jwt", "Bearer eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoxfQ.", "Token abc"],
)
def test_missing_or_forged_tokens_are_401(api, user, header):
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)
    r = api.get("/api/me/")
    assert r.status_code == 401
    assert r.json()["code"] in ("not_authenticated", "authentication_failed")
    assert set(r.json()) == {"error", "code", "details"}


def test_failures_on_one_account_do_not_lock_another_account_at_the_same_address(api, user, other_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api.post("/api/login/", {"email": user.email, "password": "nope"}, format="json")
    locked = api.post("/api/login/", {"email": user.email, "password": PASSWORD}, format="json")
    assert locked.status_code == 429
    seconds = int(locked["Retry-After"])
    assert 0 < seconds <= settings.AXES_COOLOFF_TIME.total_seconds() + 1
    assert locked.json()["error"] == (f"Too many failed logins for this account from your address; "
                                      f"try again in {seconds} seconds.")
    assert api.post("/api/login/", {"email": other_user.email, "password": PASSWORD}, format="json").status_code == 200


def test_an_address_that_fails_on_many_accounts_waits_too(api, user, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    for n in range(6):
        assert api.post("/api/login/", {"email": f"guess{n}@example.com", "password": "x"}, format="json").status_code == 401
    r = api.post("/api/login/", {"email": user.email, "password": PASSWORD}, format="json")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert r.json()["error"].startswith("Too many failed logins from your address; try again in ")


def test_logout_takes_only_the_callers_own_refresh_token(api, client_a, user, other_user):
    theirs = api.post("/api/login/", {"email": other_user.email, "password": PASSWORD}, format="json").json()
    r = client_a.post("/api/logout/", {"refresh": theirs["refresh"]}, format="json")
    assert r.status_code == 403
    assert r.json()["error"] == "That refresh token is not yours; you can log out only your own sessions."
    assert api.post("/api/token/refresh/", {"refresh": theirs["refresh"]}, format="json").status_code == 200


def test_a_username_is_never_an_email_and_shares_with_an_at_go_by_email(api, client_a, ready_dataset, user):
    r = api.post("/api/register/", {"email": "mallory@example.com", "password": PASSWORD,
                                    "username": "alice@example.com"}, format="json")
    assert r.status_code == 400 and "never an email address" in r.json()["error"]
    r = api.post("/api/register/", {"email": "alice@example.com", "password": PASSWORD}, format="json")
    assert r.status_code == 201
    from django.contrib.auth import get_user_model

    alice = get_user_model().objects.get(id=r.json()["user_id"])
    assert alice.username == "alice"
    again = api.post("/api/register/", {"email": "alice@example.org", "password": PASSWORD}, format="json")
    assert get_user_model().objects.get(id=again.json()["user_id"]).username == "alice-2"
    squatter = get_user_model().objects.create(username="bob@example.com", email="eve@example.com")
    real_bob = get_user_model().objects.create(username="bob", email="bob@example.com")
    file_id = ready_dataset("a\n1\n")
    shared = client_a.post(f"/api/datasets/{file_id}/share", {"user": "bob@example.com"}, format="json")
    assert shared.status_code == 201 and shared.json()["user_id"] == real_bob.id != squatter.id
