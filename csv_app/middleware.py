"""Gives each request an id (X-Request-ID) for the logs and the response, and reports server time."""
import re
import time
import uuid

from . import logging_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = logging_context.request_id.set(rid)
        user_token = logging_context.user_id.set(None)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            logging_context.request_id.reset(token)
            logging_context.user_id.reset(user_token)
        response["X-Request-ID"] = rid
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
