"""Running a task row on a worker: claim it, report progress and heartbeat, run its job, store its result, end it.

The task row is the truth about a job. A worker claims it atomically; each attempt writes into a folder of its
own, which becomes the result only if the attempt still owns the task when it ends; the final status is
published only once the files are in their final state."""
import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from analytics_app.engine.errors import Cancelled, EngineError
from analytics_app.engine.results import Result, dataset_input
from analytics_app.registry import InvalidParameters, Operation, RunContext, Upload, get_job

from .. import logging_context
from ..models import Dataset, Task
from ..selectors import task_result, task_status
from ..storage import (StorageUnavailable, dataset_dir, discard, engine_limits, keep, pin, relative, remove_tree,
                       result_dir, stored_path, stored_table_file, uses_object_store)
from .datasets import dataset_mark_failed, source_cleanup
from .profiles import profile_enqueue_on_commit
from .queue import publish_webhook
from .quota import dataset_recount, folder_bytes, over_quota_sentence, release, reserve
from .waiting import task_announce
from .webhooks import webhook_arm

logger = logging.getLogger("ravid.tasks")
S = Task.Status
INTERNAL_ERROR = "The operation failed because of an internal error; it has been logged."
STORE_ERROR = "The file store did not answer; the task can be retried once it is back."


class ProgressReporter:
    """Writes progress and the heartbeat to the task row at most every half second; asks the work to stop
    when the task was cancelled or has run past its time limit."""

    def __init__(self, task_id, attempt: int, time_limit: float | None = None, every: float = 0.5,
                 job: Operation | None = None):
        self.task_id = task_id
        self.attempt = attempt
        self.every = every
        self.job = job or get_job(Task.objects.filter(id=task_id).values_list("operation", flat=True).first())
        self.last = time.monotonic()  # the claim wrote the start: a job done within `every` writes no progress
        self.high = 0  # the overall percent never goes back, whatever a stage's own counter does
        self.cancelled = False
        self.timed_out = False
        self.deadline = time.monotonic() + time_limit if time_limit else None

    def __call__(self, stage: str, percent: float) -> bool:
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            self.timed_out = True
            return False
        if now - self.last < self.every:
            return not self.cancelled
        self.last = now
        self.high = max(self.high, self.job.overall(stage, percent))
        updated = Task.objects.filter(id=self.task_id, status=S.STARTED, attempts=self.attempt).update(
            stage=stage, progress_current=self.high, progress_total=100, heartbeat_at=timezone.now()
        )
        if updated == 0:
            self.cancelled = True
        return not self.cancelled


def worker_identity(node: str = "", pid: int | None = None) -> str:
    """'<celery node> <host>:<pid>' of a pool process (this one by default): enough to tell later whether that
    process still lives."""
    return f"{node or 'worker'} {socket.gethostname()}:{pid or os.getpid()}"


def worker_is_dead(identity: str) -> bool:
    """True when `identity` names a process on this host that no longer exists."""
    host, _, pid = identity.rpartition(" ")[2].rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claim(task_id, worker: str, seen: dict) -> Task | None:
    """Move the task to STARTED unless a live worker has it; None when there is nothing to run here. `seen`: the
    row's status, worker and attempts as read just before."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.TASK_HEARTBEAT_STALE_SECONDS)
    claimable = Q(status=S.PENDING) | Q(status=S.STARTED, heartbeat_at__lt=stale) | Q(status=S.STARTED, heartbeat_at__isnull=True)
    if seen["status"] == S.STARTED and seen["worker"] != worker and worker_is_dead(seen["worker"]):
        if seen["attempts"] >= settings.TASK_MAX_ATTEMPTS:  # it keeps killing its worker: give up rather than loop
            task_give_up(Task.objects.get(id=task_id))
            return None
        claimable |= Q(status=S.STARTED, worker=seen["worker"])  # redelivered after its pool process was killed
    updated = Task.objects.filter(claimable, id=task_id).update(
        status=S.STARTED, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1,
        worker=worker[:255], stage="starting", progress_current=0, error="",
    )
    if not updated:
        return None
    return Task.objects.select_related("dataset").get(id=task_id)


def task_give_up(task: Task) -> bool:
    """Fail a task whose workers keep dying under it (TASK_MAX_ATTEMPTS), leaving none of its attempts' folders."""
    discard(result_dir(task.id))
    reason = f"The worker running this task stopped responding {task.attempts} times; giving up."
    return task_end(task, S.FAILURE, reason, attempt=task.attempts)


def _attempt_dir(task: Task) -> Path:
    """Where this attempt writes; it becomes the result only if the attempt still owns the task."""
    return result_dir(task.id) / f".attempt-{task.attempts}-{uuid.uuid4().hex[:8]}.tmp"


def _remove_older_attempts(task: Task) -> None:
    """Folders left by attempts whose worker died; they lost the task to this one."""
    folder = result_dir(task.id)
    for path in folder.glob("*attempt-*"):
        number = path.name.lstrip(".").split("-")[1]
        if number.isdigit() and int(number) < task.attempts:
            remove_tree(path)


def _remove_older_kept_attempts(task: Task) -> None:
    """What an earlier attempt kept in the object store before its host died, short of recording its end."""
    if uses_object_store():
        for number in range(1, task.attempts):
            discard_quietly(result_dir(task.id) / f"attempt-{number}")


def _clear_attempts(task: Task) -> None:
    """Remove the folders of earlier attempts, and the task's folder if that leaves it empty (the current
    attempt's own folder is removed by whoever moved or abandoned it)."""
    _remove_older_attempts(task)
    _remove_older_kept_attempts(task)
    try:
        result_dir(task.id).rmdir()
    except OSError:
        pass


DEFER = "DEFER"


def must_give_way(task_id, owner=None) -> bool:
    """True when the task's owner already runs USER_MAX_RUNNING jobs while another user, running fewer, has a job
    waiting: this one waits (stage 'waiting for your other jobs') so one user's burst never holds every worker.
    `owner`: the owner of the task, known PENDING (read from the row when not given)."""
    cap = settings.USER_MAX_RUNNING
    if owner is None:
        owner = Task.objects.filter(id=task_id, status=S.PENDING).values_list("owner_id", flat=True).first()
    if not cap or owner is None or Task.objects.filter(owner_id=owner, status=S.STARTED).count() < cap:
        return False
    busy = (Task.objects.filter(status=S.STARTED).values("owner_id").annotate(n=Count("id"))
            .filter(n__gte=cap).values("owner_id"))
    if not Task.objects.filter(status=S.PENDING).exclude(owner_id=owner).exclude(owner_id__in=busy).exists():
        return False
    Task.objects.filter(id=task_id, status=S.PENDING).update(stage="waiting for your other jobs")
    return True


def task_execute(task_id, *, worker: str = "", stop_errors: tuple = (), time_limit: int | None = None) -> str | None:
    """Run one task to its end on this worker. Returns the final status, DEFER when it gives way to other users'
    jobs (publish it again), or None if it was not ours to run.

    `stop_errors` are the exceptions a time limit raises here; they end the task as timed out.
    """
    claiming = time.monotonic()
    seen = Task.objects.filter(id=task_id).values("status", "owner_id", "worker", "attempts").first()
    if seen is None:
        return None
    if seen["status"] == S.PENDING and must_give_way(task_id, owner=seen["owner_id"]):
        return DEFER
    task = _claim(task_id, worker or worker_identity(), seen)
    if task is None:
        return None
    timings = {"queued_s": _seconds(task.started_at - task.enqueued_at),
               "claim_s": round(time.monotonic() - claiming, 4)}
    token = logging_context.task_id.set(str(task.id))
    try:
        return _execute(task, stop_errors, time_limit or settings.TASK_SOFT_TIME_LIMIT, timings)
    finally:
        logging_context.task_id.reset(token)


def _seconds(delta) -> float:
    return round(max(delta.total_seconds(), 0.0), 4)


def _execute(task: Task, stop_errors: tuple, limit: int, timings: dict) -> str:
    """Run the job; `timings` (queue wait, claim) gains the compute and store times and is recorded with the end."""
    job = get_job(task.operation)
    reporter = ProgressReporter(task.id, task.attempts, limit, job=job)
    work_dir = _attempt_dir(task)
    work_dir.mkdir(parents=True)
    pins = Path(settings.WORK_TMP_DIR) / "pins" / work_dir.name
    started = time.monotonic()
    status, reason = None, ""
    try:
        if job is None:
            raise EngineError(f"The operation '{task.operation}' no longer exists.")
        context = _context(task, job, reporter, work_dir)
        copies = pin(_inputs(context), pins)  # the cache never evicts an input under the job
        computing = time.monotonic()
        result = job.execute(context, task.parameters)
        timings["compute_s"] = round(time.monotonic() - computing, 4)
        status = _succeed(task, job, result, work_dir, timings, copies)
    except Cancelled:
        if reporter.timed_out:
            reason = f"The task timed out after {limit} s."
        else:
            status = S.REVOKED
    except stop_errors:  # Celery's own time limit, should it reach this process first
        reason = f"The task timed out after {limit} s."
    except EngineError as exc:
        reason = exc.message
    except InvalidParameters as exc:
        reason = exc.sentence
    except StorageUnavailable:
        reason = STORE_ERROR
    except Exception:
        logger.exception("task failed", extra={"operation": task.operation})
        reason = INTERNAL_ERROR
    finally:
        # The files reach their final state before the final status is published: a client that sees the
        # task end never finds an attempt's leftovers.
        remove_tree(work_dir)
        remove_tree(pins)
        if status != S.SUCCESS:
            _clear_attempts(task)
    if reason:
        task_end(task, S.FAILURE, reason, attempt=task.attempts, timings=timings)
        status = S.FAILURE
    elif status == S.REVOKED:
        task_end(task, S.REVOKED, attempt=task.attempts)
        status = task_status(task.id) or S.REVOKED
    logger.info(
        "task finished",
        extra={"ravid_task_id": str(task.id), "operation": task.operation, "status": status,
               "seconds": round(time.monotonic() - started, 3)},
    )
    return status


def _context(task: Task, job: Operation, reporter: ProgressReporter, work_dir: Path) -> RunContext:
    """The job's input: a new dataset's upload, a task's result, or a READY dataset's table."""
    dataset = task.dataset
    common = {"result_dir": work_dir, "limits": engine_limits(), "on_progress": reporter}
    if job.reads_upload:
        upload = Upload(stored_path(dataset.source_file), dataset.encoding, dataset.delimiter,
                        tuple(c["name"] for c in dataset.columns), dataset.source_format) if dataset.source_file else None
        return RunContext(source=None, schema=[], upload=upload, **common)
    if task.reads_task_result:
        source_task = Task.objects.filter(id=task.source_task_id).first()
        stored = task_result(source_task) if source_task else None
        source = stored.table() if stored else None
        if source is None or not source.exists():
            raise EngineError("The task result this operation reads no longer exists.")
        return RunContext(source=source, schema=source_task.result_columns, **common)
    if dataset.status != Dataset.Status.READY or not dataset.parquet_file:
        raise EngineError("The dataset is not ready.")
    source, profile = dataset_input(stored_table_file(dataset.parquet_file, profiled=dataset.profiled))
    return RunContext(source=source, schema=dataset.columns, profile_file=profile, **common)


def _inputs(context: RunContext) -> list:
    """The stored files a job reads."""
    source = context.source
    return [context.upload.path if context.upload else None, context.profile_file,
            *((source.path, source.selection) if source is not None else ())]


def _succeed(task: Task, job: Operation, result: Result, work_dir: Path, timings: dict | None = None,
             copies: dict | None = None) -> str:
    """Put the result's files in their final place (kept in the store), then record SUCCESS if this attempt still
    owns the task. An ingest's or a save's result becomes its dataset's table; any other job's folder becomes the
    task's result folder. `copies`: the job's stored inputs by (device, inode), for files the result links."""
    storing, timings = time.monotonic(), dict(timings or {})
    if job.reads_upload:
        return _succeed_dataset(task, result, work_dir, timings=timings, storing=storing)
    if job.makes_dataset:  # a saved dataset counts its whole table, reserved before it is kept
        size = folder_bytes(work_dir)
        if not reserve(task.owner_id, size):
            raise EngineError(over_quota_sentence("The dataset", size, task.owner_id))
        try:
            status = _succeed_dataset(task, result, work_dir, counted=size, timings=timings, storing=storing,
                                      copies=copies)
        except BaseException:
            release(task.owner_id, size)
            raise
        if status != S.SUCCESS:
            release(task.owner_id, size)
        return status
    kept = folder_bytes(work_dir, own_only=True)
    if not reserve(task.owner_id, kept):  # counted before the result is kept; a job never takes a user past quota
        raise EngineError(over_quota_sentence("The result", kept, task.owner_id))
    ended = False
    final = result_dir(task.id) / f"attempt-{task.attempts}"
    try:
        remove_tree(final)
        os.replace(work_dir, final)
        result = result.at(final)
        keep(relative(final), copies=copies)
        _remove_older_attempts(task)
        _remove_older_kept_attempts(task)
        timings["store_s"] = round(time.monotonic() - storing, 4)
        ended = task_end(task, S.SUCCESS, attempt=task.attempts, stored_bytes=kept, timings=timings,
                         **_result_fields(result))
    finally:
        if not ended:  # lost the task (cancelled, requeued) or failed to keep the files: nothing is kept
            release(task.owner_id, kept)
            discard_quietly(final)
    return S.SUCCESS if ended else (task_status(task.id) or S.REVOKED)


def discard_quietly(path: Path) -> None:
    """Remove what an attempt that did not end well kept; the store being down then leaves it to the purge."""
    try:
        discard(path)
    except StorageUnavailable:
        logger.warning("could not remove %s from the file store", relative(path))


def _result_fields(result: Result) -> dict:
    return {"stage": "done", "progress_current": 100, "result_kind": result.kind, "result_files": result.record(),
            "result_dir": relative(result.folder), "result_row_count": result.row_count,
            "result_columns": result.columns, "result_value": result.value}


def _succeed_dataset(task: Task, result: Result, work_dir: Path, counted: int | None = None,
                     timings: dict | None = None, storing: float | None = None, copies: dict | None = None) -> str:
    """An ingest's (or a save's) table becomes its dataset's, in one transaction that holds the task row: an
    attempt that lost the task (cancelled, requeued) never touches the dataset's folder. `counted`: the bytes
    already reserved for it (a save); an ingest's are counted again from disk once its upload is gone."""
    with transaction.atomic():
        if not Task.objects.select_for_update().filter(id=task.id, status=S.STARTED, attempts=task.attempts).exists():
            return task_status(task.id) or S.REVOKED
        folder = dataset_dir(task.dataset_id)
        folder.mkdir(parents=True, exist_ok=True)  # an ingest's holds its upload; a save's is new
        result = result.moved_into(folder)
        for name in result.files.values():  # kept before the dataset is READY; the attempt owns the task meanwhile
            keep(relative(folder / name), copies=copies)
        remove_tree(work_dir)
        _clear_attempts(task)
        timings = {**(timings or {}), "store_s": round(time.monotonic() - (storing or time.monotonic()), 4)}
        task_end(task, S.SUCCESS, attempt=task.attempts, timings=timings, **_result_fields(result))
        Dataset.objects.filter(id=task.dataset_id).update(
            status=Dataset.Status.READY, row_count=result.row_count, columns=result.columns,
            parquet_file=relative(result.table().path), error="",
            **({"stored_bytes": counted, "size_bytes": counted} if counted is not None else {}),  # a save's size: its table's
        )
    if counted is None:
        source_cleanup(task.dataset)
        dataset_recount(task.dataset)
    profile_enqueue_on_commit(task.dataset_id, result.row_count)  # READY now; its profile follows
    return S.SUCCESS


def task_end(task: Task, status: str, reason: str = "", *, attempt: int | None = None, **fields) -> bool:
    """Record the end of a task: by the attempt that runs it (`attempt`: only while it still owns the task), or
    from outside (cancel, the sweep: only while it has not ended). An ingest that ends without success leaves
    its dataset FAILED with the reason. True when this call ended the task."""
    now = timezone.now()
    running = Task.objects.filter(id=task.id)
    running = running.filter(status=S.STARTED, attempts=attempt) if attempt is not None else \
        running.filter(status__in=[S.PENDING, S.STARTED])
    if status == S.FAILURE:
        fields = {"error": reason, "stage": "failed", **fields}
    with transaction.atomic():
        ended = running.update(status=status, finished_at=now, heartbeat_at=now, **fields)
        if status == S.REVOKED:  # cancelled from outside while running: the attempt notes when it stopped
            Task.objects.filter(id=task.id, status=S.REVOKED, finished_at__isnull=True).update(finished_at=now)
        job = get_job(task.operation)
        if ended and status != S.SUCCESS and job is not None and job.makes_dataset:
            dataset_mark_failed(task.dataset_id, reason or f"The {'ingest' if job.reads_upload else 'save'} was cancelled.")
        if ended:  # the requests waiting on it hear of the end once it is committed
            task_id = task.id
            transaction.on_commit(lambda: task_announce(task_id))
            if task.callback_url and webhook_arm(task.id):  # its completion webhook goes then too
                transaction.on_commit(lambda: publish_webhook(task_id))
    return bool(ended)
