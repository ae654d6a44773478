"""Tasks as records: submitting an operation (or returning the identical one in flight), cancelling, retrying,
deleting and sharing. Running them is services.runner; finding lost ones, services.sweep."""
import hashlib
import json
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F

from analytics_app.engine.results import CONTENT_TYPES
from analytics_app.registry import InvalidParameters, get_job, get_operation

from ..exceptions import Conflict, Forbidden, TooMany
from ..models import Dataset, Task, TaskShare
from ..selectors import dataset_profile_saved, dataset_table, task_result_kept, task_result_table, tasks_visible_to
from ..storage import discard, engine, keep, relative, result_dir, stored_path
from .datasets import share_grant, share_revoke
from .quota import release, reserve
from .queue import create_and_enqueue, task_enqueue_on_commit, task_requeue
from .runner import task_end
from .webhooks import callback_check

S = Task.Status


def _idempotency_key(dataset_id, source_task_id, operation: str, params: dict) -> str:
    blob = json.dumps([str(dataset_id), str(source_task_id or ""), operation, params], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _source_schema(dataset: Dataset, source_task: Task | None) -> list[dict]:
    if source_task is not None:
        if task_result_table(source_task, fetch=False) is None:
            raise Conflict(f"The source task is {source_task.status} or has no table result; "
                           "operations can read a successful table result only.", {"task_id": [source_task.status]})
        return source_task.result_columns
    if dataset.status != Dataset.Status.READY:
        raise Conflict(f"{dataset.state_sentence()}; operations need a READY dataset.", {"file_id": [dataset.status]})
    return dataset.columns


def operation_validate(*, dataset: Dataset, operation: str, params: dict, source_task: Task | None = None) -> dict:
    """The operation's parameters checked against its input (its columns, and a cheap look at its data); the clean
    parameters, or InvalidParameters / Conflict naming what is wrong."""
    op = get_operation(operation)
    if op is None:
        raise InvalidParameters({"operation": [f"Unknown operation '{operation}'."]})
    clean = op.validate(params, _source_schema(dataset, source_task))
    if op.preflight is not None:
        profile = dataset_profile_saved(dataset) if source_task is None else None
        with engine() as con:
            op.check_data(con, lambda: task_result_table(source_task) if source_task else dataset_table(dataset),
                          clean, profile)
    return clean


def task_submit(*, user, dataset: Dataset, operation: str, params: dict, source_task: Task | None = None,
                fresh: bool = False, schedule=None, callback_url: str = "", callback_origin: str = "") -> tuple[Task, bool]:
    """Validate the parameters against the input table and queue the operation. Returns the task and whether it
    is a reused one: an identical task queued or running, or (unless `fresh`) an identical one that succeeded on
    the same input, whose result is still there. Datasets and results never change once READY, so an identical
    request has the same answer. Only a task the user may see is reused: their own, or one shared with them."""
    clean = operation_validate(dataset=dataset, operation=operation, params=params, source_task=source_task)
    if callback_url:  # a task of its own, whose end is reported there: never another, reused one
        callback_check(callback_url)
        fresh = True
    key = _idempotency_key(dataset.id, source_task.id if source_task else None, operation, clean)
    live = None if callback_url else Task.objects.filter(
        owner=user, dataset=dataset, idempotency_key=key, status__in=[S.PENDING, S.STARTED]
    ).first()
    if live is not None:
        return live, True
    if not fresh:
        done = _reusable(user, dataset, key)
        if done is not None:
            return done, True
    waiting = Task.objects.filter(owner=user, status__in=[S.PENDING, S.STARTED]).count()
    if waiting >= settings.USER_MAX_QUEUED:
        raise TooMany(f"You have {waiting} jobs queued or running; at most {settings.USER_MAX_QUEUED} may be at once "
                      "(USER_MAX_QUEUED). Submit more when some have finished.")

    def create():
        task = Task.objects.create(
            owner=user, dataset=dataset, source_task=source_task, reads_task_result=source_task is not None,
            operation=operation, parameters=clean, schedule=schedule,
            callback_url=callback_url, callback_origin=callback_origin[:255],
            idempotency_key=key,
        )
        task_enqueue_on_commit(task, ahead=waiting)
        return task

    return create_and_enqueue(create, lambda task: task.delete()), False


def _reusable(user, dataset: Dataset, key: str) -> Task | None:
    """The newest identical task that succeeded on this input and that the user may see, its result still there."""
    for task in tasks_visible_to(user).filter(dataset=dataset, idempotency_key=key, status=S.SUCCESS).order_by(
            "-finished_at")[:5]:
        if task_result_kept(task) is not None:
            return task
    return None


def task_cancel(task: Task) -> Task:
    """A queued task never runs; a running one stops at its next progress step (its attempt sees it lost it)."""
    if task.is_finished:
        raise Conflict(f"The task has already finished ({task.status}); there is nothing to cancel.")
    task_end(task, S.REVOKED, stage="cancelled")  # a dataset it was making says "The ingest/save was cancelled."
    task.refresh_from_db()
    return task


def task_retry(task: Task) -> bool:
    """Queue a failed or cancelled task again from scratch; False when it is not one of those or the broker is down.
    Attempt numbers keep counting up, so an attempt still stopping can never pass for the new one."""
    if not Task.objects.filter(id=task.id, status__in=[S.FAILURE, S.REVOKED]).update(
        status=S.PENDING, error="", stage="queued", finished_at=None, webhook_status="", webhook_next_at=None
    ):
        return False
    return task_requeue(task.id)


def task_delete(task: Task) -> None:
    job = get_job(task.operation)
    if job is not None and job.makes_dataset:
        raise Conflict(f"An {job.name} task belongs to its dataset; delete the dataset instead.")
    task_id, owner_id = task.id, task.owner_id
    stored = Task.objects.filter(id=task_id).values_list("stored_bytes", flat=True).first() or 0
    if Task.objects.filter(id=task_id).delete()[0]:
        release(owner_id, stored)
    discard(result_dir(task_id))


def task_download(task: Task, result, fmt: str) -> tuple[Path, str, bool]:
    """The file to send for a result in `fmt`, its content type, and whether it is kept. A table's export is written
    once and kept as a copy, counted against the task owner's quota; when the quota has no room for it, it is sent
    once and not kept (`False`: the caller removes it)."""
    if fmt != "png":  # an export another web host kept
        stored_path(relative(result.export_path(fmt)))
    ready = result.download(fmt)
    if ready is not None:
        return *ready, True
    scratch = Path(settings.WORK_TMP_DIR) / f"export-{uuid.uuid4().hex}.{fmt}"
    with engine() as con:
        result.export(con, fmt, scratch)
    size = scratch.stat().st_size
    with transaction.atomic():
        list(Task.objects.select_for_update().filter(id=task.id).values_list("id", flat=True))  # one copy at a time
        ready = result.download(fmt)
        if ready is None and reserve(task.owner_id, size):
            target = result.export_path(fmt)
            stale = target.stat().st_size if target.exists() else 0
            shutil.move(scratch, target)
            keep(relative(target))
            Task.objects.filter(id=task.id).update(stored_bytes=F("stored_bytes") + size - stale)
            release(task.owner_id, stale)
            ready = result.download(fmt)
    if ready is not None:
        scratch.unlink(missing_ok=True)
        return *ready, True
    return scratch, CONTENT_TYPES[fmt], False


def task_share(*, task: Task, user_identifier: str) -> TaskShare:
    """Only whoever owns the data shares what is derived from it: a grantee's results stay theirs alone."""
    if task.dataset.owner_id != task.owner_id:
        raise Forbidden("Only the owner of the dataset this result comes from can share it.")
    job = get_job(task.operation)
    if job is not None and job.makes_dataset:
        raise Conflict(f"An {job.name} task's result is its dataset; share the dataset instead.")
    return share_grant(TaskShare, "task", task, user_identifier)


def task_unshare(*, task: Task, user_id: int) -> None:
    share_revoke(TaskShare, "task", task, user_id)
