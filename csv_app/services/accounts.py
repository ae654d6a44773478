"""Registering users and logging them in and out."""
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

User = get_user_model()


def user_register(*, email: str, password: str, username: str | None = None):
    email = User.objects.normalize_email(email).strip()
    username = (username or email).strip()
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
    identifier = (identifier or "").strip()
    username = identifier
    if "@" in identifier:
        match = User.objects.filter(email__iexact=identifier).order_by("id").first()
        if match is not None:
            username = match.username
    return authenticate(request, username=username, password=password)


def tokens_for(user) -> dict:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def user_logout(*, refresh: str) -> None:
    try:
        RefreshToken(refresh).blacklist()
    except TokenError:
        raise serializers.ValidationError({"refresh": ["The refresh token is invalid or expired."]}) from None
