"""Putting a task on the queue once its row is committed; a broker that is down is Unavailable.

Tasks are published by name: the services never import the Celery adapter (csv_app.tasks), which imports them."""
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics_app.registry import get_job
from ravid_project.celery import app as celery_app

from ..exceptions import Unavailable
from ..models import Task

logger = logging.getLogger("ravid.queue")
RUN_TASK = "csv_app.tasks.run_task"
QUEUE_DOWN = "The job queue is unavailable right now; nothing was queued. Try again shortly."


QUEUES = ("small", "heavy")


def publish(task_id: str, countdown: float | None = None, row: dict | None = None, ahead: int | None = None) -> None:
    """Send the message that makes a worker run the task row `task_id`; Celery's task id is the same id, so
    Flower and the API name a job alike. Heavy jobs go to their own queue, so a pool of small-job workers is never
    taken by them. A user's first job waiting goes to the front, their tenth or later to the back (priorities 0-9,
    0 first): one user's burst queues behind itself, not in front of everyone else's. `row` (the task's fields
    that choose its queue) and `ahead` (the user's other jobs queued or running) are read here when not given."""
    row = row if row is not None else _publish_row(task_id)
    priority = min(ahead, 9) if ahead is not None else _priority(task_id, row)
    celery_app.send_task(RUN_TASK, args=[task_id], task_id=task_id, queue=queue_for(row),
                         priority=priority, countdown=countdown)


# The task's fields that choose its queue and priority (a row of them: `row` below).
PUBLISH_FIELDS = ("owner_id", "operation", "parameters", "reads_task_result", "dataset__row_count",
                  "source_task__result_row_count")


def _publish_row(task_id: str) -> dict | None:
    """The task's PUBLISH_FIELDS, read once per publish."""
    return Task.objects.filter(id=task_id).values(*PUBLISH_FIELDS).first()


def _row_of(task: Task) -> dict:
    """The same fields from a task in hand (its dataset and source task as given to it)."""
    def value(path: str):
        found = task
        for name in path.split("__"):
            field = found._meta.get_field(name)
            if field.is_relation and getattr(found, field.attname) is None:  # no such related row
                return None
            found = getattr(found, name)
        return found
    return {path: value(path) for path in PUBLISH_FIELDS}


def _priority(task_id: str, row: dict | None = None) -> int:
    row = row if row is not None else _publish_row(task_id)
    if row is None:
        return 0
    ahead = Task.objects.filter(owner_id=row["owner_id"], status__in=[Task.Status.PENDING, Task.Status.STARTED]) \
        .exclude(id=task_id).count()
    return min(ahead, 9)


def queue_for(row: dict | None) -> str:
    """'heavy' for an ingest, a job heavy by nature (Kendall's tau), or one that reads more than HEAVY_JOB_ROWS
    rows; 'small' for the rest (`row`: the task's fields that publish reads)."""
    if row is None:
        return "small"
    job = get_job(row["operation"])
    if job is None or job.heavy(row["parameters"] or {}):
        return "heavy"
    return queue_for_rows(row["source_task__result_row_count"] if row["reads_task_result"]
                          else row["dataset__row_count"])


def queue_for_rows(rows: int | None) -> str:
    """The queue of a job that reads `rows` rows: 'heavy' past HEAVY_JOB_ROWS."""
    return "heavy" if (rows or 0) > settings.HEAVY_JOB_ROWS else "small"


def publish_webhook(task_id) -> None:
    """Ask a worker to deliver a task's completion webhook now; if the broker is away, the periodic
    deliver_due_webhooks finds it (its delivery is due in the database)."""
    try:
        celery_app.send_task("csv_app.tasks.deliver_webhook", args=[str(task_id)], queue="small")
    except Exception:
        logger.warning("could not queue a webhook delivery; the periodic one will",
                       extra={"ravid_task_id": str(task_id)}, exc_info=True)


def task_enqueue_on_commit(task: Task, ahead: int | None = None) -> None:
    """Publish the task when the surrounding transaction commits (a failure there undoes the transaction's work:
    see create_and_enqueue). Its queue is chosen from the new row as it is here (its dataset and source task as
    given to it); `ahead`: the user's other jobs queued or running, when the caller has just counted them."""
    task_id, row = str(task.id), _row_of(task)
    transaction.on_commit(lambda: publish(task_id, row=row, ahead=ahead))


def task_requeue(task_id, countdown: float | None = None) -> bool:
    """Publish an existing PENDING task again (after `countdown` seconds: a job that gave way to other users'
    jobs, USER_MAX_RUNNING); False when the broker cannot be reached. Its enqueue time is renewed, so the sweep does
    not take a job that keeps giving way for one whose message was lost."""
    try:
        publish(str(task_id), countdown=countdown)
    except Exception:
        logger.warning("could not requeue task", extra={"ravid_task_id": str(task_id)}, exc_info=True)
        return False
    Task.objects.filter(id=task_id).update(enqueued_at=timezone.now())
    return True


def queue_length() -> int | None:
    """Messages waiting in the broker's queues (every priority of each), or None when the broker cannot say."""
    from kombu.exceptions import ChannelError

    total = 0
    try:
        with celery_app.connection_for_write() as conn:
            for name in QUEUES:
                try:
                    total += conn.default_channel.queue_declare(queue=name, passive=True).message_count
                except ChannelError:
                    pass  # the queue does not exist (yet, or any more): nothing is waiting in it
    except Exception:
        return None
    return total


def create_and_enqueue(create, cleanup):
    """Run create() in a transaction that enqueues on commit; if publishing fails, undo with cleanup(result)."""
    result = None
    try:
        with transaction.atomic():
            result = create()
    except Exception as exc:
        if result is None:
            raise
        logger.error("publishing to the broker failed: %s", exc.__class__.__name__)
        cleanup(result)
        raise Unavailable(QUEUE_DOWN) from None
    return result
