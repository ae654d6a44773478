"""The contract's error envelope for every 4xx and 5xx: DRF's exceptions, Django's 404/500, login lockout."""
import logging
import sys

from django import db
from django.core.exceptions import DisallowedHost, PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from analytics_app.registry import InvalidParameters, first_message

from .exceptions import Conflict, DomainError, Forbidden, Invalid, NotFound, TooLarge, TooMany, Unavailable
from .storage import StorageUnavailable

logger = logging.getLogger("ravid.api")

CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "service_unavailable",
}

MESSAGES = {
    400: "The request is not valid.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "The request conflicts with the current state.",
    413: "The upload is too large.",
    415: "Unsupported media type.",
    429: "Too many requests; try again later.",
    500: "Something went wrong on our side; the error has been logged.",
    503: "The service is temporarily unavailable; try again shortly.",
}


class ApiError(exceptions.APIException):
    """An error with the contract's code, a sentence and optional details."""

    def __init__(self, status_code: int, message: str, details: dict | None = None, code: str | None = None,
                 headers: dict | None = None):
        self.status_code = status_code
        self.headers = headers
        self.message = message
        self.details = details
        self.error_code = code or CODES.get(status_code, "invalid")
        super().__init__(detail=message)


def envelope(status_code: int, message: str | None = None, details=None, code: str | None = None) -> dict:
    return {
        "error": message or MESSAGES.get(status_code, "Error."),
        "code": code or CODES.get(status_code, "invalid"),
        "details": details if details else None,
    }


def _details(detail):
    if isinstance(detail, dict):
        return {k: _details(v) if isinstance(v, dict) else [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": [str(x) for x in detail]}
    return None


DATABASE_DOWN = "The database is unavailable right now; try again shortly."
STORAGE_DOWN = "The file store is unavailable right now; try again shortly."


def _unavailable(exc) -> str | None:
    """The sentence for a service this request needed and could not reach, or None."""
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        return DATABASE_DOWN
    if isinstance(exc, StorageUnavailable):
        return STORAGE_DOWN
    return None

# The one place where the services' errors become HTTP statuses.
DOMAIN_STATUS = {Invalid: 400, Forbidden: 403, NotFound: 404, Conflict: 409, TooLarge: 413, TooMany: 429,
                 Unavailable: 503}


def api_exception_handler(exc, context):
    """DRF's exception handler: everything, unexpected errors included, comes out in the envelope."""
    headers = {}
    if isinstance(exc, ApiError):
        return Response(envelope(exc.status_code, exc.message, exc.details, exc.error_code), status=exc.status_code,
                        headers=exc.headers)
    if isinstance(exc, DomainError):
        code = DOMAIN_STATUS[type(exc)]
        return Response(envelope(code, exc.message, exc.details), status=code)
    if isinstance(exc, InvalidParameters):
        return Response(envelope(400, exc.sentence, _details(exc.detail)), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        from django.conf import settings

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(envelope(413, f"The request body is over {limit} bytes, the limit for a JSON body "
                                      "(MAX_JSON_BODY_BYTES); upload files through /api/upload-csv/."), status=413)
    elif _unavailable(exc):
        logger.warning("service unavailable: %s", exc.__class__.__name__)
        return Response(envelope(503, _unavailable(exc)), status=503, headers={"Retry-After": "5"})
    if not isinstance(exc, exceptions.APIException):
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__ if context else "api")
        return Response(envelope(500), status=500)

    code = exc.status_code
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        message = first_message(detail) or MESSAGES[400]
        body = envelope(400, message, _details(detail))
    elif isinstance(exc, exceptions.MethodNotAllowed):
        body = envelope(405, str(detail))
    elif isinstance(exc, exceptions.Throttled):
        body = envelope(429, "Too many requests; try again in a while.")
    elif isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        code = 401
        err_code = "not_authenticated" if isinstance(exc, exceptions.NotAuthenticated) else "authentication_failed"
        message = first_message(detail) or MESSAGES[401]
        if isinstance(detail, dict) and "messages" in detail:
            message = "The access token is invalid or expired."
        body = envelope(401, message, None, err_code)
    else:
        body = envelope(code, first_message(detail) or MESSAGES.get(code))
    return Response(body, status=code, headers=headers)


def json_error(request, status_code: int, message: str | None = None) -> JsonResponse:
    return JsonResponse(envelope(status_code, message), status=status_code)


def _app_page(request, status_code: int, message: str):
    """The web app (/app/) answers with a page, the API with its envelope."""
    if not request.path.startswith("/app/"):
        return None
    from django.shortcuts import render

    try:
        return render(request, "app/error.html", {"message": message}, status=status_code)
    except Exception:  # a page that cannot be drawn still gets its answer
        logger.exception("error page for %s could not be rendered", status_code)
        return None


@csrf_exempt
def not_found_view(request, exception=None):
    return (_app_page(request, 404, "There is no such page, or it is not yours to see.")
            or json_error(request, 404, "No such endpoint or object."))


def csrf_failure_view(request, reason=""):
    return (_app_page(request, 403, "The form had expired (the CSRF check failed): reload the page and try again.")
            or json_error(request, 403, "The request was refused by the CSRF check; API clients use a Bearer token."))


def server_error_view(request):
    """An error no view answered. The database or the file store being down is a 503 to retry."""
    sentence = _unavailable(sys.exc_info()[1])
    if sentence:
        response = _app_page(request, 503, sentence) or json_error(request, 503, sentence)
        response["Retry-After"] = "5"
        return response
    return _app_page(request, 500, MESSAGES[500]) or json_error(request, 500)


def bad_request_view(request, exception=None):
    if isinstance(exception, DisallowedHost):
        # request.get_host() raised: read the header itself, shortened, only to name it back.
        host = request.META.get("HTTP_HOST", "")[:100]
        return json_error(request, 400, f"The host '{host}' is not served here: it is not in ALLOWED_HOSTS. "
                                        "Set ALLOWED_HOSTS (comma-separated) to the names clients use for this server.")
    return json_error(request, 400)


def permission_denied_view(request, exception=None):
    return json_error(request, 403)


def login_lockout_response(request, original_response=None, credentials=None):
    """django-axes: the answer once an account has failed to log in too often from an address."""
    from django.conf import settings

    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds()) if settings.AXES_COOLOFF_TIME else 900
    message = f"Too many failed login attempts; try again in {seconds} seconds."
    if request.path.startswith("/app/"):  # the web app's login form, with the sentence
        from django.shortcuts import render

        response = render(request, "app/login.html", {"error": message, "email": request.POST.get("email", "")},
                          status=status.HTTP_429_TOO_MANY_REQUESTS)
    else:
        response = JsonResponse(envelope(429, message), status=status.HTTP_429_TOO_MANY_REQUESTS)
    response["Retry-After"] = str(seconds)
    return response
