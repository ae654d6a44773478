"""Putting a task on the queue once its row is committed; a broker that is down becomes a 503."""
import logging

from django.db import transaction
from django.utils import timezone

from ..errors import ApiError
from ..models import Task

logger = logging.getLogger("ravid.queue")


class QueueUnavailable(ApiError):
    def __init__(self):
        super().__init__(503, "The job queue is unavailable right now; nothing was queued. Try again shortly.")


def task_enqueue_on_commit(task: Task) -> None:
    """Publish the task when the surrounding transaction commits (Celery's delay_on_commit)."""
    from ..tasks import run_task

    run_task.delay_on_commit(str(task.id))


def task_requeue(task_id) -> bool:
    """Publish an existing PENDING task again; False when the broker cannot be reached."""
    from ..tasks import run_task

    try:
        run_task.delay(str(task_id))
    except Exception:
        logger.warning("could not requeue task", extra={"ravid_task_id": str(task_id)}, exc_info=True)
        return False
    Task.objects.filter(id=task_id).update(enqueued_at=timezone.now())
    return True


def queue_length(name: str = "celery") -> int | None:
    """Messages waiting in the broker's queue, or None when the broker cannot say."""
    from kombu.exceptions import ChannelError

    from ravid_project.celery import app

    try:
        with app.connection_for_write() as conn:
            return conn.default_channel.queue_declare(queue=name, passive=True).message_count
    except ChannelError:
        return 0  # the queue does not exist (yet, or any more): nothing is waiting in it
    except Exception:
        return None


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
        raise QueueUnavailable() from None
    return result
