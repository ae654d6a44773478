"""Waiting without polling: a status request that asks to wait is answered as soon as its task changes (status,
attempt, progress or stage), or at the end of its wait.

A waiting request holds one thread of the web server (gunicorn's gthread workers; Django's threaded dev server),
never a process, and at most TASK_WAIT_MAX_CLIENTS of one process wait at once: past that, a wait answers at
once with the task as it is, so waiting clients can never take every thread from the other requests.

When the broker is Redis (the embedded one included), a task's end is also announced on a Redis channel, so a
waiting request hears of it at once; progress and stage changes are seen at the next check of the row
(TASK_WAIT_INTERVAL_SECONDS), and without Redis every change is."""
import hashlib
import logging
import threading
import time

import redis
from django.conf import settings
from django.utils import timezone

from ravid_project.embedded_broker import redis_py_url

from ..models import Task

_FIELDS = ("status", "attempts", "progress_current", "progress_total", "stage")
_waiting = threading.BoundedSemaphore(max(1, settings.TASK_WAIT_MAX_CLIENTS))
logger = logging.getLogger("ravid.waiting")
_clients: dict[str, redis.Redis | None] = {}


def _broker() -> redis.Redis | None:
    """This process's client of the broker when it is Redis, else None."""
    url = settings.CELERY_BROKER_URL
    if url not in _clients:
        url_for_redis = redis_py_url(url)
        _clients[url] = redis.Redis.from_url(url_for_redis, socket_connect_timeout=1, socket_timeout=5) \
            if url_for_redis else None
    return _clients[url]


def _channel(task_id) -> str:
    return f"ravid:task-changed:{task_id}"


def task_announce(task_id) -> None:
    """Tell the requests waiting on this task that it changed (best effort: they also check the row)."""
    client = _broker()
    if client is None:
        return
    try:
        client.publish(_channel(task_id), "1")
    except redis.RedisError:
        logger.debug("could not announce a task's change", exc_info=True)


def _listen(task_id):
    """A subscription to the task's announcements, or None (no Redis, or it does not answer)."""
    client = _broker()
    if client is None:
        return None
    try:
        pubsub = client.pubsub()
        pubsub.subscribe(_channel(task_id))
        # Redis confirms the subscription: from then on no announcement is missed (the row is read after it).
        if pubsub.get_message(timeout=1.0) is None:
            pubsub.close()
            return None
        return pubsub
    except redis.RedisError:
        return None


def _revision(values) -> str:
    return hashlib.sha1("\x1f".join(str(v) for v in values).encode()).hexdigest()[:16]


def task_revision(task: Task) -> str:
    """A short token that changes whenever what a client sees of the task's state changes."""
    return _revision(getattr(task, f) for f in _FIELDS)


CHANGED, UNCHANGED, BUSY = "changed", "unchanged", "busy"


def task_wait(task: Task, seconds: float, since: str = "", until_end: bool = False) -> str:
    """Wait until `task` differs from revision `since` (its revision now, when not given), ends, or disappears, for
    at most `seconds`; with `until_end`, until it ends or disappears (its progress on the way wakes nobody).
    CHANGED when it did (or, at the timeout of a wait until the end, when it changed meanwhile); UNCHANGED at the
    timeout (or at once for a finished task); BUSY at once when this process already has TASK_WAIT_MAX_CLIENTS
    requests waiting."""
    since = since or task_revision(task)
    if task_revision(task) != since and not until_end:
        return CHANGED
    if seconds <= 0 or task.is_finished:
        return UNCHANGED
    if not _waiting.acquire(blocking=False):
        return BUSY
    listening = _listen(task.pk)  # subscribed before the row is read again: no announcement falls in between
    try:
        deadline = time.monotonic() + min(seconds, settings.TASK_WAIT_MAX_SECONDS)
        while True:
            row = Task.objects.filter(pk=task.pk).values_list(*_FIELDS).first()
            if row is None or (row[0] in Task.FINISHED if until_end else _revision(row) != since):
                return CHANGED
            if (left := deadline - time.monotonic()) <= 0:
                return CHANGED if _revision(row) != since else UNCHANGED
            pause = min(settings.TASK_WAIT_INTERVAL_SECONDS, left)
            if listening is None:
                time.sleep(pause)
                continue
            try:
                listening.get_message(ignore_subscribe_messages=True, timeout=pause)
            except redis.RedisError:
                listening = None
    finally:
        if listening is not None:
            try:
                listening.close()
            except redis.RedisError:
                pass
        _waiting.release()


def task_percent(task: Task) -> float:
    return round(100.0 * task.progress_current / task.progress_total, 1) if task.progress_total else 0.0


def task_eta_seconds(task: Task) -> float | None:
    """The seconds a running job should still take at its pace so far; None before it reported progress."""
    if task.status != Task.Status.STARTED or not task.started_at or not task.progress_total:
        return None
    done = task.progress_current / task.progress_total
    if not 0 < done < 1:
        return None
    elapsed = (timezone.now() - task.started_at).total_seconds()
    return round(max(elapsed, 0.0) * (1 - done) / done, 1)
