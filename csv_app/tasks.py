"""Celery tasks: thin adapters that take ids and call services; they own retries and time limits."""
import logging
import threading

from celery import shared_task
from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutting_down
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.utils import timezone

from analytics_app.registry import all_operations

from .apis.tasks import webhook_body  # a webhook POSTs the task's body exactly as the API shows it
from .models import Task
from .selectors import task_status
from .services.datasets import datasets_purge_expired
from .services.profiles import dataset_profile
from .services.queue import task_requeue
from .services.runner import DEFER, task_execute, worker_identity
from .services.schedules import schedule_run
from .services.sweep import tasks_requeue_dead_here, tasks_requeue_from_node, tasks_sweep_stale
from .services.webhooks import webhook_deliver, webhook_due_ids
from .warmup import warm_engine

logger = logging.getLogger("ravid.worker")


@worker_init.connect
def _load_operations(**_) -> None:
    """The worker's main process imports every operation (pandas, scipy, matplotlib: about 0.2 s) before it forks
    its pool, so no pool process, new or replaced, pays for it in its first job."""
    all_operations()


@worker_process_init.connect
def _warm_pool_process(**_) -> None:
    """Each pool process makes its DuckDB as it starts, not in its first task."""
    try:
        warm_engine()
    except Exception:  # a task would report the same problem; starting the process must not fail on it
        logger.exception("could not prepare DuckDB in a new pool process")


@worker_ready.connect
def _requeue_jobs_of_dead_workers(**_) -> None:
    """A worker that starts (again) on a host puts back on the queue what a killed worker there was running."""
    try:
        requeued = tasks_requeue_dead_here()
    except Exception:  # the sweep will do it; starting the worker must not fail on it
        logger.exception("could not look for the jobs of dead workers")
        return
    if requeued:
        logger.warning("requeued the jobs of a worker that died on this host", extra={"requeued": requeued})


@worker_shutting_down.connect
def _requeue_running_jobs(sender: str = "", **_) -> None:
    """Stopping (Ctrl-C, SIGTERM, a deploy): the jobs running here go back on the queue and stop at once,
    so the shutdown takes seconds, not as long as the longest job. This runs inside a signal handler, so the work
    is done on a thread of its own (its own database and broker connections) and waited for a few seconds."""

    def requeue() -> None:
        try:
            requeued = tasks_requeue_from_node(sender or "")
            if requeued:
                logger.info("requeued running jobs for shutdown", extra={"requeued": requeued})
        except Exception:
            logger.exception("could not requeue the running jobs; the sweep will once their heartbeat stops")
        finally:
            connections.close_all()

    thread = threading.Thread(target=requeue, name="ravid-requeue", daemon=True)
    thread.start()
    thread.join(timeout=5)


@shared_task(name="csv_app.tasks.run_task", bind=True, acks_late=True, reject_on_worker_lost=True)
def run_task(self, task_id: str) -> str | None:
    """Run one task row. While the database is unreachable, the message is retried with a backoff."""
    try:
        status = task_execute(
            task_id,
            worker=worker_identity(self.request.hostname or ""),
            stop_errors=(SoftTimeLimitExceeded,),
            time_limit=settings.TASK_SOFT_TIME_LIMIT,
        )
        if status == DEFER:
            task_requeue(task_id, countdown=1)
            return status
        if (status or task_status(task_id)) == "REVOKED":  # cancelled: Flower shows it so, not as a success
            self.send_event("task-revoked", terminated=False, signum=None, expired=False)
            raise Ignore()
        return status
    except (OperationalError, InterfaceError) as exc:
        delay = min(30, 2 ** min(self.request.retries, 5))
        logger.warning("database unavailable, retrying in %s s", delay, extra={"ravid_task_id": task_id})
        raise self.retry(exc=exc, countdown=delay, max_retries=None) from None
    except DatabaseError:
        logger.exception("database error running task", extra={"ravid_task_id": task_id})
        raise


@shared_task(name="csv_app.tasks.profile_dataset", ignore_result=True)
def profile_dataset(dataset_id: str) -> str:
    """A READY dataset's column profile (acknowledged on receipt: a profile that kills its worker is not redelivered
    at once; the sweep queues a lost one again after PROFILE_REQUEUE_SECONDS, PROFILE_MAX_ATTEMPTS times in all,
    and until then `summary` computes)."""
    return dataset_profile(dataset_id)


@shared_task(name="csv_app.tasks.run_schedule", ignore_result=True)
def run_schedule(schedule_id: str) -> str | None:
    """One run of a recurring job, sent by beat: submits the operation as an ordinary task and returns its id."""
    task = schedule_run(schedule_id)
    return str(task.id) if task is not None else None


@shared_task(name="csv_app.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(task_id: str) -> str | None:
    """Deliver a task's completion webhook; a retry due within ten minutes is queued with that countdown, a later
    one is left to deliver_due_webhooks (long countdowns outlive the broker's visibility timeout)."""
    outcome = webhook_deliver(task_id, webhook_body)
    if outcome == "pending":
        due = Task.objects.filter(id=task_id).values_list("webhook_next_at", flat=True).first()
        delay = max(0.0, (due - timezone.now()).total_seconds()) if due else None
        if delay is not None and delay <= 600:
            deliver_webhook.apply_async((task_id,), countdown=delay, queue="small")
    return outcome


@shared_task(name="csv_app.tasks.deliver_due_webhooks", ignore_result=True)
def deliver_due_webhooks() -> int:
    """Every webhook whose delivery is due (a retry, or one whose first message was lost)."""
    delivered = 0
    for task_id in webhook_due_ids():
        delivered += webhook_deliver(task_id, webhook_body) == "delivered"
    return delivered


@shared_task(name="csv_app.tasks.sweep_stale_tasks", ignore_result=True)
def sweep_stale_tasks() -> dict:
    counts = tasks_sweep_stale()
    if counts["requeued"] or counts["failed"] or counts["profiles"]:
        logger.warning("swept stale tasks", extra=counts)
    return counts


@shared_task(name="csv_app.tasks.purge_expired_data", ignore_result=True)
def purge_expired_data() -> int:
    removed = datasets_purge_expired()
    if removed:
        logger.info("removed expired data", extra={"removed": removed, "retention_days": settings.RETENTION_DAYS})
    return removed
