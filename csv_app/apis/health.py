"""GET /health/: real checks of the database, the broker and live workers."""
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_yasg.utils import swagger_auto_schema
from rest_framework.response import Response

from ravid_project.celery import app as celery_app

from ..storage import storage_check

from .accounts import PublicApi

logger = logging.getLogger("ravid.health")


def check_database() -> str:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:
        logger.warning("database check failed: %s", exc.__class__.__name__)
        return "unavailable"


def check_broker() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            conn.default_channel  # opens a channel: the broker really answers
        return "ok"
    except Exception as exc:
        logger.warning("broker check failed: %s", exc.__class__.__name__)
        return "unavailable"


def check_storage() -> str:
    """The object store answers this host's credentials (a local folder always does)."""
    try:
        storage_check()
        return "ok"
    except Exception as exc:
        logger.warning("storage check failed: %s", exc.__class__.__name__)
        return "unavailable"


def count_workers() -> int:
    try:
        return len(celery_app.control.ping(timeout=1.0) or [])
    except Exception:
        return 0


def cached(key: str, compute, seconds: float):
    """A check's answer, computed at most once per `seconds` per web process: /health/ stays cheap however often
    anyone calls it (no broker round-trip per request)."""
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, seconds)
    return value


class HealthApi(PublicApi):
    @swagger_auto_schema(operation_summary="Service health: database, broker, file store, workers", security=[],
                         tags=["service"])
    def get(self, request):
        database = check_database()
        broker = cached("health:broker", check_broker, settings.HEALTH_CACHE_SECONDS)
        workers = cached("health:workers", count_workers, settings.HEALTH_CACHE_SECONDS) if broker == "ok" else 0
        store = cached("health:storage", check_storage, settings.HEALTH_CACHE_SECONDS)
        healthy = database == "ok" and broker == "ok" and store == "ok"
        body = {
            "status": "ok" if healthy else "unavailable",
            "service": "ravid",
            "version": settings.RAVID_VERSION,
            "checks": {"database": database, "broker": broker, "storage": store, "workers": workers},
        }
        return Response(body, status=200 if healthy else 503)
