"""Registering users and logging them in and out."""
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

User = get_user_model()


USERNAME_RE = r"[A-Za-z0-9._-]+"


def free_username(base: str) -> str:
    """`base` made a valid username (never an email address) that nobody has: ann, then ann-2, ann-3, ..."""
    import re

    base = re.sub(r"[^A-Za-z0-9._-]", "", base)[:140] or "user"
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def user_register(*, email: str, password: str, username: str | None = None):
    """A new account. The username defaults to the email's part before the @, made unique; a username is never an
    email address, so nobody can take the name that shares and logins resolve to someone's email."""
    import re

    email = User.objects.normalize_email(email).strip()
    if username is not None and not re.fullmatch(USERNAME_RE, username.strip()):
        raise serializers.ValidationError({"username": [
            "A username has only letters, digits, '.', '_' and '-' (it is never an email address)."]})
    username = username.strip() if username else free_username(email.split("@", 1)[0])
    if User.objects.filter(email__iexact=email).exists():
        raise serializers.ValidationError({"email": ["A user with this email already exists."]})
    if User.objects.filter(username__iexact=username).exists():
        raise serializers.ValidationError({"username": ["A user with this username already exists."]})
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"password": list(exc.messages)}) from None
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        raise serializers.ValidationError({"username": ["A user with this username already exists."]}) from None
    return candidate


def user_authenticate(request, *, identifier: str, password: str):
    """The user for an email or username and password, or None; failures count towards the lockout."""
    return authenticate(request, username=_username_for(identifier), password=password)


def login_refusal(request, identifier: str) -> tuple[str, int] | None:
    """Why a login from this request must wait, and how many seconds: the account has failed too often from this
    address, or the address has failed too often across accounts. None when it may go ahead."""
    from datetime import timedelta

    from axes.helpers import get_client_ip_address
    from axes.models import AccessAttempt
    from django.conf import settings
    from django.db.models import Max, Sum
    from django.utils import timezone

    if not settings.AXES_ENABLED:
        return None
    address = get_client_ip_address(request)
    window = settings.AXES_COOLOFF_TIME or timedelta(minutes=15)
    recent = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=timezone.now() - window)
    username = _username_for(identifier)
    own = recent.filter(username=username).aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
    every = recent.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))

    def wait(last) -> int:
        return max(1, int((last + window - timezone.now()).total_seconds()) + 1)

    if (own["failures"] or 0) >= settings.AXES_FAILURE_LIMIT:
        return "Too many failed logins for this account from your address", wait(own["last"])
    if settings.LOGIN_ADDRESS_FAILURE_LIMIT and (every["failures"] or 0) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
        return "Too many failed logins from your address", wait(every["last"])
    return None


def _username_for(identifier: str) -> str:
    identifier = (identifier or "").strip()
    if "@" in identifier:
        match = User.objects.filter(email__iexact=identifier).order_by("id").first()
        if match is not None:
            return match.username
    return identifier


def tokens_for(user) -> dict:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def user_logout(*, user, refresh: str) -> None:
    """Blacklist the caller's own refresh token; another user's is Forbidden and stays valid."""
    from django.conf import settings as django_settings

    from ..exceptions import Forbidden

    try:
        token = RefreshToken(refresh)
    except TokenError:
        raise serializers.ValidationError({"refresh": ["The refresh token is invalid or expired."]}) from None
    if str(token.get(django_settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id"))) != str(user.pk):
        raise Forbidden("That refresh token is not yours; you can log out only your own sessions.")
    token.blacklist()
