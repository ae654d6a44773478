"""Celery tasks: thin adapters that take ids and call services; they own retries and time limits."""
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from .services.tasks import task_execute, tasks_sweep_stale

logger = logging.getLogger("ravid.worker")


@shared_task(name="csv_app.tasks.run_task", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_task(self, task_id: str) -> str | None:
    return task_execute(
        task_id,
        worker=self.request.hostname or "",
        stop_errors=(SoftTimeLimitExceeded,),
        time_limit=settings.TASK_SOFT_TIME_LIMIT,
    )


@shared_task(name="csv_app.tasks.sweep_stale_tasks", ignore_result=True)
def sweep_stale_tasks() -> dict:
    counts = tasks_sweep_stale()
    if counts["requeued"] or counts["failed"]:
        logger.warning("swept stale tasks", extra=counts)
    return counts
