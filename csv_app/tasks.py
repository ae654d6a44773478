"""Celery tasks: thin adapters that take ids and call services; they own retries and time limits."""
import logging

from celery import shared_task
from celery.signals import worker_process_init
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from .services.datasets import datasets_purge_expired
from .services.tasks import task_execute, tasks_sweep_stale, worker_identity
from .storage import warm_engine

logger = logging.getLogger("ravid.worker")


@worker_process_init.connect
def _warm_pool_process(**_) -> None:
    """Each pool process makes its DuckDB as it starts, not in its first task."""
    try:
        warm_engine()
    except Exception:  # a task would report the same problem; starting the process must not fail on it
        logger.exception("could not prepare DuckDB in a new pool process")


@shared_task(name="csv_app.tasks.run_task", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_task(self, task_id: str) -> str | None:
    """Run one task row. While the database is unreachable, the message is retried with a backoff."""
    try:
        return task_execute(
            task_id,
            worker=worker_identity(self.request.hostname or ""),
            stop_errors=(SoftTimeLimitExceeded,),
            time_limit=settings.TASK_SOFT_TIME_LIMIT,
        )
    except (OperationalError, InterfaceError) as exc:
        delay = min(30, 2 ** min(self.request.retries, 5))
        logger.warning("database unavailable, retrying in %s s", delay, extra={"ravid_task_id": task_id})
        raise self.retry(exc=exc, countdown=delay, max_retries=None) from None
    except DatabaseError:
        logger.exception("database error running task", extra={"ravid_task_id": task_id})
        raise


@shared_task(name="csv_app.tasks.sweep_stale_tasks", ignore_result=True)
def sweep_stale_tasks() -> dict:
    counts = tasks_sweep_stale()
    if counts["requeued"] or counts["failed"]:
        logger.warning("swept stale tasks", extra=counts)
    return counts


@shared_task(name="csv_app.tasks.purge_expired_data", ignore_result=True)
def purge_expired_data() -> int:
    removed = datasets_purge_expired()
    if removed:
        logger.info("removed expired data", extra={"removed": removed, "retention_days": settings.RETENTION_DAYS})
    return removed
