"""Register, log in, tokens, log out, and the current user."""
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_yasg import openapi
from drf_yasg.utils import no_body, swagger_auto_schema
from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer

from ..errors import ApiError
from ..services.quota import quota_bytes, storage_used
from ..services.webhooks import webhook_secret
from ..services.accounts import login_refusal, tokens_for, user_authenticate, user_logout, user_register

ERROR_SCHEMA = openapi.Schema(
    type=openapi.TYPE_OBJECT,
    properties={
        "error": openapi.Schema(type=openapi.TYPE_STRING),
        "code": openapi.Schema(type=openapi.TYPE_STRING),
        "details": openapi.Schema(type=openapi.TYPE_OBJECT, x_nullable=True),
    },
)


def error_response(text: str) -> openapi.Response:
    return openapi.Response(text, ERROR_SCHEMA)


class PublicApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


@method_decorator(sensitive_post_parameters("password", "confirm_password"), name="dispatch")
class RegisterApi(PublicApi):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RegisterInput"

        email = serializers.EmailField()
        password = serializers.CharField(write_only=True, style={"input_type": "password"}, max_length=256)
        confirm_password = serializers.CharField(write_only=True, required=False, max_length=256)
        username = serializers.CharField(required=False, max_length=150)

        def validate(self, attrs):
            if "confirm_password" in attrs and attrs["confirm_password"] != attrs["password"]:
                raise serializers.ValidationError({"confirm_password": ["The two passwords do not match."]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RegisterOutput"

        message = serializers.CharField()
        user_id = serializers.IntegerField()

    @swagger_auto_schema(
        operation_summary="Create an account",
        request_body=InputSerializer,
        responses={201: OutputSerializer, 400: error_response("Invalid data, duplicate email or weak password")},
        security=[],
        tags=["accounts"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = user_register(email=v["email"], password=v["password"], username=v.get("username"))
        return Response({"message": "Registration successful", "user_id": user.id}, status=status.HTTP_201_CREATED)


class CredentialsSerializer(serializers.Serializer):
    email = serializers.CharField(required=False, max_length=254)
    username = serializers.CharField(required=False, max_length=254)
    password = serializers.CharField(write_only=True, max_length=256)

    def validate(self, attrs):
        if not (attrs.get("email") or attrs.get("username")):
            raise serializers.ValidationError({"email": ["Give an email or a username."]})
        return attrs


def _authenticate(request) -> object:
    data = CredentialsSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    identifier = v.get("email") or v.get("username")
    refused = login_refusal(request._request, identifier)
    if refused is None:
        user = user_authenticate(request._request, identifier=identifier, password=v["password"])
        if getattr(request._request, "axes_locked_out", False):  # this failure was one too many
            refused = login_refusal(request._request, identifier) or ("Too many failed login attempts", 900)
    if refused is not None:
        why, seconds = refused
        raise ApiError(429, f"{why}; try again in {seconds} seconds.", headers={"Retry-After": str(seconds)})
    if user is None or not user.is_active:
        raise ApiError(401, "Invalid email or password", code="authentication_failed")
    return user


TOKENS_SCHEMA = openapi.Schema(
    type=openapi.TYPE_OBJECT,
    properties={"access": openapi.Schema(type=openapi.TYPE_STRING), "refresh": openapi.Schema(type=openapi.TYPE_STRING)},
)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginApi(PublicApi):
    @swagger_auto_schema(
        operation_summary="Log in with email (or username) and password",
        request_body=CredentialsSerializer,
        responses={
            200: openapi.Response("Tokens", openapi.Schema(type=openapi.TYPE_OBJECT, properties={
                "message": openapi.Schema(type=openapi.TYPE_STRING), **TOKENS_SCHEMA.properties})),
            401: error_response("Invalid email or password"),
            429: error_response("Too many failed attempts"),
        },
        security=[],
        tags=["accounts"],
    )
    def post(self, request):
        user = _authenticate(request)
        return Response({"message": "Login successful", **tokens_for(user)})


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class TokenObtainApi(PublicApi):
    @swagger_auto_schema(
        operation_summary="Obtain a JWT pair",
        request_body=CredentialsSerializer,
        responses={200: openapi.Response("Tokens", TOKENS_SCHEMA), 401: error_response("Invalid credentials")},
        security=[],
        tags=["accounts"],
    )
    def post(self, request):
        return Response(tokens_for(_authenticate(request)))


class RefreshInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RefreshInput"

    refresh = serializers.CharField()


class TokenRefreshApi(PublicApi):
    @swagger_auto_schema(
        operation_summary="Exchange a refresh token for a new pair (the old one is blacklisted)",
        request_body=RefreshInputSerializer,
        responses={200: openapi.Response("Tokens", TOKENS_SCHEMA), 401: error_response("Invalid or expired token")},
        security=[],
        tags=["accounts"],
    )
    def post(self, request):
        RefreshInputSerializer(data=request.data).is_valid(raise_exception=True)
        serializer = TokenRefreshSerializer(data={"refresh": request.data.get("refresh")})
        try:
            serializer.is_valid(raise_exception=True)
        except (TokenError, InvalidToken, AuthenticationFailed, ObjectDoesNotExist):  # a deleted user's token too
            raise ApiError(401, "The refresh token is invalid, expired or already used.", code="authentication_failed")
        return Response(serializer.validated_data)


class LogoutApi(APIView):
    @swagger_auto_schema(
        operation_summary="Log out: blacklist the refresh token",
        request_body=RefreshInputSerializer,
        responses={200: openapi.Response("Logged out"), 400: error_response("Invalid refresh token"),
                   403: error_response("Another user's refresh token")},
        tags=["accounts"],
    )
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_logout(user=request.user, refresh=data.validated_data["refresh"])
        return Response({"message": "Logout successful"})


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "MeOutput"

        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.EmailField()
        date_joined = serializers.DateTimeField()
        storage_used_bytes = serializers.IntegerField(help_text="Every byte kept for you: datasets, results, "
                                                                 "export copies, saved datasets.")
        storage_quota_bytes = serializers.IntegerField(allow_null=True, help_text="USER_QUOTA_BYTES; null: none.")

    @swagger_auto_schema(operation_summary="The current user", responses={200: OutputSerializer}, tags=["accounts"])
    def get(self, request):
        user = request.user
        return Response(self.OutputSerializer({
            "id": user.id, "username": user.username, "email": user.email, "date_joined": user.date_joined,
            "storage_used_bytes": storage_used(user.id), "storage_quota_bytes": quota_bytes(),
        }).data)


class WebhookSecretApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WebhookSecretOutput"

        secret = serializers.CharField(help_text="Your webhooks carry X-Ravid-Signature: sha256=<HMAC-SHA256 of "
                                                 "the body with this secret, hex>.")

    @swagger_auto_schema(operation_summary="Your webhook signing secret (made on first use)",
                         responses={200: OutputSerializer}, tags=["accounts"])
    def get(self, request):
        return Response({"secret": webhook_secret(request.user)})

    @swagger_auto_schema(operation_summary="Rotate your webhook signing secret", request_body=no_body,
                         responses={200: OutputSerializer}, tags=["accounts"])
    def post(self, request):
        return Response({"secret": webhook_secret(request.user, rotate=True)})
