"""Submitting operations, running them on a worker, cancelling, deleting and sweeping tasks."""
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path

import duckdb
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework import serializers

from analytics_app.engine.errors import Cancelled, EngineError
from analytics_app.engine.execution import run_with_progress
from analytics_app.engine.ingest import ingest_csv
from analytics_app.engine.sql import connect
from analytics_app.engine.summary import PROFILE_FILE, save_profile, summarize
from analytics_app.engine.sniff import Dialect
from analytics_app.registry import ChartResult, RunContext, get_operation
from analytics_app.engine.tables import Table, TableResult

from .. import logging_context
from ..errors import ApiError
from ..models import Dataset, Task, TaskShare
from ..storage import dataset_dir, engine_limits, media_path, relative, remove_tree, result_dir
from ..selectors import INGEST, task_result_table
from .datasets import dataset_mark_failed, share_grant, share_revoke, source_cleanup
from .queue import create_and_enqueue, queue_length, task_enqueue_on_commit, task_requeue

logger = logging.getLogger("ravid.tasks")
S = Task.Status
INTERNAL_ERROR = "The operation failed because of an internal error; it has been logged."

# Each stage's share of the whole job, as (start, end) percent.
STAGES = {
    "queued": (0, 0),
    "decoding": (0, 30),
    "reading": (30, 80),  # the one pass of an ingest whose sampled types hold
    "inferring types": (30, 50),  # when they do not: a detailed look, then "writing" again
    "writing": (50, 80),
    "profiling": (80, 97),
    "computing": (2, 95),
    "rendering": (2, 95),
    "done": (100, 100),
}


def _idempotency_key(dataset_id, source_task_id, operation: str, params: dict) -> str:
    blob = json.dumps([str(dataset_id), str(source_task_id or ""), operation, params], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _source_schema(dataset: Dataset, source_task: Task | None) -> list[dict]:
    if source_task is not None:
        if task_result_table(source_task) is None:
            raise ApiError(409, f"The source task is {source_task.status} or has no table result; "
                                "operations can read a successful table result only.", {"task_id": [source_task.status]})
        return source_task.result_columns
    if dataset.status != Dataset.Status.READY:
        raise ApiError(409, f"{dataset.state_sentence()}; operations need a READY dataset.", {"file_id": [dataset.status]})
    return dataset.columns


def task_submit(*, user, dataset: Dataset, operation: str, params: dict, source_task: Task | None = None) -> Task:
    """Validate the parameters against the input table and queue the operation (or return an identical live one)."""
    op = get_operation(operation)
    if op is None:
        raise serializers.ValidationError({"operation": [f"Unknown operation '{operation}'."]})
    columns = _source_schema(dataset, source_task)
    schema = op.params(data=params)
    schema.is_valid(raise_exception=True)
    clean = dict(schema.validated_data)
    if op.check is not None:
        clean = op.check(clean, columns) or clean
    clean = json.loads(json.dumps(clean, default=str))
    key = _idempotency_key(dataset.id, source_task.id if source_task else None, operation, clean)
    live = Task.objects.filter(
        owner=user, dataset=dataset, idempotency_key=key, status__in=[S.PENDING, S.STARTED]
    ).first()
    if live is not None:
        return live

    def create():
        task = Task.objects.create(
            owner=user, dataset=dataset, source_task=source_task, reads_task_result=source_task is not None,
            operation=operation, parameters=clean,
            idempotency_key=key, enqueued_at=timezone.now(),
        )
        task_enqueue_on_commit(task)
        return task

    return create_and_enqueue(create, lambda task: task.delete())


class ProgressReporter:
    """Writes progress and the heartbeat to the task row at most every half second; asks the work to stop
    when the task was cancelled or has run past its time limit."""

    def __init__(self, task_id, attempt: int, time_limit: float | None = None, every: float = 0.5):
        self.task_id = task_id
        self.attempt = attempt
        self.every = every
        self.last = 0.0
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
        lo, hi = STAGES.get(stage, (0, 99))
        self.high = max(self.high, int(lo + (hi - lo) * max(0.0, percent) / 100.0))
        updated = Task.objects.filter(id=self.task_id, status=S.STARTED, attempts=self.attempt).update(
            stage=stage, progress_current=self.high, progress_total=100, heartbeat_at=timezone.now()
        )
        if updated == 0:
            self.cancelled = True
        return not self.cancelled


def worker_identity(node: str = "") -> str:
    """'<celery node> <host>:<pid>': enough to tell later whether that process still lives."""
    return f"{node or 'worker'} {socket.gethostname()}:{os.getpid()}"


def _worker_is_dead(identity: str) -> bool:
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


def _claim(task_id, worker: str) -> Task | None:
    """Move the task to STARTED unless a live worker has it; None when there is nothing to run here."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.TASK_HEARTBEAT_STALE_SECONDS)
    claimable = Q(status=S.PENDING) | Q(status=S.STARTED, heartbeat_at__lt=stale) | Q(status=S.STARTED, heartbeat_at__isnull=True)
    current = Task.objects.filter(id=task_id, status=S.STARTED).values_list("worker", flat=True).first()
    if current and current != worker and _worker_is_dead(current):
        claimable |= Q(status=S.STARTED, worker=current)  # redelivered after its pool process was killed
    updated = Task.objects.filter(claimable, id=task_id).update(
        status=S.STARTED, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1,
        worker=worker[:255], stage="starting", progress_current=0, error="",
    )
    if not updated:
        return None
    return Task.objects.select_related("dataset").get(id=task_id)


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


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def task_execute(task_id, *, worker: str = "", stop_errors: tuple = (), time_limit: int | None = None) -> str | None:
    """Run one task to its end on this worker. Returns the final status, or None if it was not ours to run.

    `stop_errors` are the exceptions a time limit raises here; they end the task as timed out.
    """
    task = _claim(task_id, worker or worker_identity())
    if task is None:
        return None
    token = logging_context.task_id.set(str(task.id))
    try:
        return _execute(task, stop_errors, time_limit or settings.TASK_SOFT_TIME_LIMIT)
    finally:
        logging_context.task_id.reset(token)


def _execute(task: Task, stop_errors: tuple, limit: int) -> str:
    reporter = ProgressReporter(task.id, task.attempts, limit)
    work_dir = _attempt_dir(task)
    work_dir.mkdir(parents=True)
    started = time.monotonic()
    status, reason = None, ""
    try:
        if task.operation == INGEST:
            status = _run_ingest(task, reporter, work_dir)
        else:
            status = _run_operation(task, reporter, work_dir)
    except Cancelled:
        if reporter.timed_out:
            reason = f"The task timed out after {limit} s."
        else:
            status = S.REVOKED
    except stop_errors:  # Celery's own time limit, should it reach this process first
        reason = f"The task timed out after {limit} s."
    except EngineError as exc:
        reason = exc.message
    except serializers.ValidationError as exc:
        reason = _validation_sentence(exc)
    except Exception:
        logger.exception("task failed", extra={"operation": task.operation})
        reason = INTERNAL_ERROR
    finally:
        # The files reach their final state before the final status is published: a client that sees the
        # task end never finds an attempt's leftovers.
        remove_tree(work_dir)
        if status != S.SUCCESS:
            _clear_attempts(task)
    if reason:
        status = _fail(task, reason)
    elif status == S.REVOKED:
        _finish(task, S.REVOKED)
        status = Task.objects.filter(id=task.id).values_list("status", flat=True).first() or S.REVOKED
    logger.info(
        "task finished",
        extra={"ravid_task_id": str(task.id), "operation": task.operation, "status": status,
               "seconds": round(time.monotonic() - started, 3)},
    )
    return status


def _clear_attempts(task: Task) -> None:
    """Remove the folders of earlier attempts, and the task's folder if that leaves it empty (the current
    attempt's own folder is removed by whoever moved or abandoned it)."""
    _remove_older_attempts(task)
    _remove_if_empty(result_dir(task.id))


def _validation_sentence(exc: serializers.ValidationError) -> str:
    from ..errors import _first_message

    return _first_message(exc.detail) or "The parameters are not valid for this dataset."


def _finish(task: Task, status: str, **fields) -> bool:
    """Record the end of a task if this attempt still owns it (not cancelled, deleted or taken over)."""
    updated = Task.objects.filter(id=task.id, status=S.STARTED, attempts=task.attempts).update(
        status=status, finished_at=timezone.now(), heartbeat_at=timezone.now(), **fields
    )
    if status == S.REVOKED:
        Task.objects.filter(id=task.id, status=S.REVOKED, finished_at__isnull=True).update(finished_at=timezone.now())
    return bool(updated)


def _fail(task: Task, reason: str) -> str:
    with transaction.atomic():
        _finish(task, S.FAILURE, error=reason, stage="failed")
        if task.operation == INGEST:
            dataset_mark_failed(task.dataset_id, reason)
    return S.FAILURE


def _run_ingest(task: Task, reporter: ProgressReporter, work_dir: Path) -> str:
    dataset = task.dataset
    source = media_path(dataset.source_file)
    if not source.exists():
        raise EngineError("The uploaded file is no longer available; upload it again.")
    dialect = Dialect(
        encoding=dataset.encoding, delimiter=dataset.delimiter, columns=tuple(c["name"] for c in dataset.columns)
    )
    tmp_parquet = work_dir / "data.parquet"
    result = ingest_csv(source, tmp_parquet, dialect, engine_limits(), work_dir, reporter)
    profiled = settings.PROFILE_ON_INGEST and _profile(Table(tmp_parquet), result.columns, work_dir / PROFILE_FILE, reporter)
    final = dataset_dir(dataset.id) / "data.parquet"
    os.replace(tmp_parquet, final)
    if profiled:
        os.replace(work_dir / PROFILE_FILE, final.with_name(PROFILE_FILE))
    remove_tree(work_dir)
    _clear_attempts(task)
    with transaction.atomic():
        if not _finish(task, S.SUCCESS, stage="done", progress_current=100, result_kind=Task.ResultKind.NONE,
                       result_row_count=result.row_count, result_columns=result.columns):
            return Task.objects.filter(id=task.id).values_list("status", flat=True).first() or S.REVOKED
        Dataset.objects.filter(id=dataset.id).update(
            status=Dataset.Status.READY, row_count=result.row_count, columns=result.columns,
            parquet_file=relative(final), error="",
        )
    source_cleanup(dataset)
    return S.SUCCESS


def _profile(table: Table, columns: list[dict], dest: Path, reporter: ProgressReporter) -> bool:
    """Save the new dataset's column profile; a failure here only means summaries are computed on demand."""
    con = connect(engine_limits())
    try:
        names = [c["name"] for c in columns]
        save_profile(run_with_progress(con, lambda c: summarize(c, table, columns, names), "profiling", reporter), dest)
        return True
    except (duckdb.Error, EngineError, MemoryError, OSError, ValueError):
        logger.exception("profiling the dataset failed; summaries will be computed when asked")
        return False
    finally:
        con.close()


def _run_operation(task: Task, reporter: ProgressReporter, work_dir: Path) -> str:
    op = get_operation(task.operation)
    if op is None:
        raise EngineError(f"The operation '{task.operation}' no longer exists.")
    dataset = task.dataset
    if task.reads_task_result:
        source_task = Task.objects.filter(id=task.source_task_id).first()
        source = task_result_table(source_task) if source_task else None
        if source is None or not source.exists():
            raise EngineError("The task result this operation reads no longer exists.")
        schema, profile_file = source_task.result_columns, None
    else:
        if dataset.status != Dataset.Status.READY or not dataset.parquet_file:
            raise EngineError("The dataset is not ready.")
        source, schema = Table(media_path(dataset.parquet_file)), dataset.columns
        profile_file = source.path.with_name(PROFILE_FILE)
    ctx = RunContext(source=source, schema=schema, result_dir=work_dir, limits=engine_limits(), on_progress=reporter,
                     profile_file=profile_file)
    outcome = op.run(ctx, task.parameters)
    fields = {"stage": "done", "progress_current": 100}
    if isinstance(outcome, TableResult):
        fields.update(result_kind=Task.ResultKind.TABLE, result_row_count=outcome.row_count,
                      result_columns=outcome.columns, result_value=outcome.value)
    elif isinstance(outcome, ChartResult):
        fields.update(result_kind=Task.ResultKind.CHART, result_value=outcome.value or None)
    final = result_dir(task.id) / f"attempt-{task.attempts}"
    remove_tree(final)
    os.replace(work_dir, final)
    _remove_older_attempts(task)
    fields["result_dir"] = relative(final)
    if not _finish(task, S.SUCCESS, **fields):
        remove_tree(final)
        return Task.objects.filter(id=task.id).values_list("status", flat=True).first() or S.REVOKED
    return S.SUCCESS


def task_cancel(task: Task) -> Task:
    if task.is_finished:
        raise ApiError(409, f"The task has already finished ({task.status}); there is nothing to cancel.")
    Task.objects.filter(id=task.id, status__in=[S.PENDING, S.STARTED]).update(
        status=S.REVOKED, stage="cancelled", finished_at=timezone.now()
    )
    if task.operation == INGEST:
        dataset_mark_failed(task.dataset_id, "The ingest was cancelled.")
    task.refresh_from_db()
    return task


def task_delete(task: Task) -> None:
    if task.operation == INGEST:
        raise ApiError(409, "An ingest task belongs to its dataset; delete the dataset instead.")
    task_id = task.id
    Task.objects.filter(id=task_id).delete()
    remove_tree(result_dir(task_id))


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
    running = Task.objects.filter(status=S.STARTED, worker__contains=host).values_list("id", "worker")
    dead = [(task_id, worker) for task_id, worker in running if _worker_is_dead(worker)]
    return sum(_requeue_started([task_id], Q(worker=worker)) for task_id, worker in dead)


def _requeue_started(task_ids: list, still: Q) -> int:
    requeued = 0
    for task_id in task_ids:
        if Task.objects.filter(still, id=task_id, status=S.STARTED).update(
            status=S.PENDING, stage="requeued", enqueued_at=timezone.now()
        ):
            requeued += task_requeue(task_id)
    return requeued


def tasks_sweep_stale() -> dict:
    """Requeue tasks whose worker went silent or whose message was lost; fail them after a few attempts."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.TASK_HEARTBEAT_STALE_SECONDS)
    counts = {"requeued": tasks_requeue_dead_here(), "failed": 0}
    for task in Task.objects.filter(status=S.STARTED, heartbeat_at__lt=stale_before):
        if task.attempts >= settings.TASK_MAX_ATTEMPTS:
            reason = f"The worker running this task stopped responding {task.attempts} times; giving up."
            with transaction.atomic():
                Task.objects.filter(id=task.id, status=S.STARTED).update(
                    status=S.FAILURE, error=reason, finished_at=now, stage="failed")
                if task.operation == INGEST:
                    dataset_mark_failed(task.dataset_id, reason)
            counts["failed"] += 1
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
    return counts


def task_share(*, task: Task, user_identifier: str) -> TaskShare:
    return share_grant(TaskShare, "task", task, user_identifier)


def task_unshare(*, task: Task, user_id: int) -> None:
    share_revoke(TaskShare, "task", task, user_id)
