"""Finding jobs whose worker is gone or whose message was lost, and putting them back on the queue."""
import socket
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..models import Task
from .profiles import profiles_requeue_lost
from .queue import queue_length, task_requeue
from .runner import task_give_up, worker_is_dead

S = Task.Status


def tasks_requeue_from_node(node: str) -> int:
    """Put the tasks that this host's worker `node` is running back on the queue: the worker is shutting down.
    Their attempts stop at their next progress report (their task is no longer theirs); another worker, or this
    one after a restart, claims them afresh. Returns how many were requeued."""
    prefix = f"{node} {socket.gethostname()}:"
    running = Task.objects.filter(status=S.STARTED, worker__startswith=prefix).values_list("id", flat=True)
    return _requeue_started(list(running), Q(worker__startswith=prefix))


def tasks_requeue_dead_here() -> int:
    """Requeue now, not once the heartbeat is stale, the tasks whose worker process on this host is gone
    (a worker killed with everything it ran, then restarted by the supervisor)."""
    host = f" {socket.gethostname()}:"
    requeued = 0
    for task in Task.objects.filter(status=S.STARTED, worker__contains=host):
        if not worker_is_dead(task.worker):
            continue
        if task.attempts >= settings.TASK_MAX_ATTEMPTS:  # it keeps killing its worker: give up rather than loop
            task_give_up(task)
        else:
            requeued += _requeue_started([task.id], Q(worker=task.worker))
    return requeued



def _requeue_started(task_ids: list, still: Q) -> int:
    requeued = 0
    for task_id in task_ids:
        if Task.objects.filter(still, id=task_id, status=S.STARTED).update(
            status=S.PENDING, stage="requeued", enqueued_at=timezone.now()
        ):
            requeued += task_requeue(task_id)
    return requeued


def tasks_sweep_stale() -> dict:
    """Requeue tasks whose worker went silent or whose message was lost (failing them after a few attempts), and
    dataset profiles that were lost."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.TASK_HEARTBEAT_STALE_SECONDS)
    counts = {"requeued": tasks_requeue_dead_here(), "failed": 0}
    for task in Task.objects.filter(status=S.STARTED, heartbeat_at__lt=stale_before):
        if task.attempts >= settings.TASK_MAX_ATTEMPTS:
            counts["failed"] += task_give_up(task)
            continue
        if Task.objects.filter(id=task.id, status=S.STARTED, heartbeat_at__lt=stale_before).update(
            status=S.PENDING, stage="requeued", enqueued_at=now
        ):
            counts["requeued"] += task_requeue(task.id)
    # Queued tasks whose message was lost (a broker restarted without persistence, a prefetched message
    # dropped with its worker): when the queue holds fewer messages than tasks have waited for a while,
    # those tasks are published again. A duplicate message is harmless: only one worker can claim a task.
    quiet_before = now - timedelta(seconds=settings.TASK_LOST_CHECK_SECONDS)
    waiting = list(Task.objects.filter(status=S.PENDING, enqueued_at__lt=quiet_before).values_list("id", "enqueued_at"))
    if waiting:
        queued = queue_length()
        lost_before = now - timedelta(seconds=settings.TASK_PENDING_REQUEUE_SECONDS)
        suspicious = queued is not None and queued < len(waiting)
        for task_id, enqueued_at in waiting:
            if suspicious or enqueued_at < lost_before:
                counts["requeued"] += task_requeue(task_id)
    counts["profiles"] = profiles_requeue_lost()
    return counts
