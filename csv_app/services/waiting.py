"""Waiting without polling: a status request that asks to wait is answered as soon as its task changes (status,
attempt, progress or stage), or at the end of its wait.

A waiting request holds one thread of the web server (gunicorn's gthread workers; Django's threaded dev server),
never a process, and at most TASK_WAIT_MAX_CLIENTS of one process wait at once: past that, a wait answers at
once with the task as it is, so waiting clients can never take every thread from the other requests."""
import hashlib
import threading
import time

from django.conf import settings
from django.utils import timezone

from ..models import Task

_FIELDS = ("status", "attempts", "progress_current", "progress_total", "stage")
_waiting = threading.BoundedSemaphore(max(1, settings.TASK_WAIT_MAX_CLIENTS))


def _revision(values) -> str:
    return hashlib.sha1("\x1f".join(str(v) for v in values).encode()).hexdigest()[:16]


def task_revision(task: Task) -> str:
    """A short token that changes whenever what a client sees of the task's state changes."""
    return _revision(getattr(task, f) for f in _FIELDS)


CHANGED, UNCHANGED, BUSY = "changed", "unchanged", "busy"


def task_wait(task: Task, seconds: float, since: str = "") -> str:
    """Wait until `task` differs from revision `since` (its revision now, when not given), ends, or disappears, for
    at most `seconds`. CHANGED when it did; UNCHANGED at the timeout (or at once for a finished task); BUSY at once
    when this process already has TASK_WAIT_MAX_CLIENTS requests waiting."""
    since = since or task_revision(task)
    if task_revision(task) != since:
        return CHANGED
    if seconds <= 0 or task.is_finished:
        return UNCHANGED
    if not _waiting.acquire(blocking=False):
        return BUSY
    try:
        deadline = time.monotonic() + min(seconds, settings.TASK_WAIT_MAX_SECONDS)
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(settings.TASK_WAIT_INTERVAL_SECONDS, left))
            row = Task.objects.filter(pk=task.pk).values_list(*_FIELDS).first()
            if row is None or _revision(row) != since:
                return CHANGED
        return UNCHANGED
    finally:
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
