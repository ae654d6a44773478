"""Creating datasets from uploads, ingesting them, sharing and deleting them."""
import logging
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from analytics_app.engine.compressed import TooLargeDecompressed, decompress, plain_name
from analytics_app.engine.errors import EngineError
from analytics_app.engine.files import link_or_copy
from analytics_app.engine.parquet_upload import is_parquet, parquet_columns
from analytics_app.engine.sniff import HEAD_BYTES, Dialect, sniff
from analytics_app.registry import dataset_jobs, ingest_job, save_job

from ..exceptions import Conflict, Invalid, NotFound, TooLarge
from ..models import Dataset, DatasetShare, Task
from ..selectors import task_result_kept
from ..storage import dataset_dir, discard, keep, relative, remove_tree, result_dir
from .queue import create_and_enqueue, task_enqueue_on_commit
from .quota import over_quota_sentence, quota_bytes, release, reserve_or_refuse, storage_used

logger = logging.getLogger("ravid.datasets")


def _too_large(size: int) -> TooLarge:
    limit = settings.MAX_UPLOAD_BYTES
    return TooLarge(
        f"The upload is {size} bytes; the limit is {limit} bytes.",
        {"file": [f"at most {limit} bytes"]},
    )


def upload_check_size(size: int | None) -> None:
    if size is not None and size > settings.MAX_UPLOAD_BYTES:
        raise _too_large(size)


def _store_upload(upload, dest: Path) -> None:
    temp_path = getattr(upload, "temporary_file_path", None)
    if temp_path is not None:  # spooled to disk beside the uploads: linked, not copied
        link_or_copy(Path(temp_path()), dest)
        return
    upload.seek(0)
    with open(dest, "wb") as out:
        for chunk in upload.chunks(1024 * 1024):
            out.write(chunk)


def clean_name(name: str | None, fallback: str) -> str:
    name = os.path.basename((name or "").replace("\\", "/")).strip().strip(".") or fallback
    return "".join(ch for ch in name if ch.isprintable())[:255] or fallback


def dataset_create(*, owner, upload, name: str | None = None) -> tuple[Dataset, Task]:
    """Store the upload (decompressed, when it is a gzip, Zstandard or one-file ZIP archive), check it quickly,
    count it against the quota, and queue its ingest; 400/413/503 in the envelope otherwise, nothing kept."""
    upload_check_size(upload.size)
    dataset_id = uuid.uuid4()
    folder = dataset_dir(dataset_id)
    source = folder / "source.csv"
    try:
        folder.mkdir(parents=True, exist_ok=False)
        received = folder / "upload"
        _store_upload(upload, received)
        compression = decompress(received, source, settings.MAX_UPLOAD_BYTES)
        if compression is None:
            received.replace(source)
        else:
            received.unlink()
        size = source.stat().st_size
        if is_parquet(source):  # kept under its own name; read once by the ingest
            source = source.replace(folder / "source.parquet")
            dialect = Dialect("", "", parquet_columns(source, settings.MAX_COLUMNS, settings.MAX_COLUMN_NAME_CHARS))
        else:
            with open(source, "rb") as handle:
                head = handle.read(HEAD_BYTES)
            dialect = sniff(head, complete=len(head) >= size, max_columns=settings.MAX_COLUMNS,
                            max_name_chars=settings.MAX_COLUMN_NAME_CHARS)
        reserve_or_refuse(owner.id, size, "This upload")  # counted before it is kept: racing uploads cannot overshoot
        try:
            keep(relative(source), leave_local=False)  # into the object store, when there is one
        except BaseException:
            release(owner.id, size)
            raise
    except TooLargeDecompressed as exc:
        remove_tree(folder)
        raise TooLarge(exc.message, exc.details) from None
    except EngineError as exc:
        remove_tree(folder)
        raise Invalid(exc.message, exc.details) from None
    except BaseException:
        remove_tree(folder)
        raise
    original_name = upload.name
    if compression:  # named after what the archive held: sales.csv.gz -> sales.csv
        name, original_name = (plain_name(name) if name else name), plain_name(upload.name or "")

    def create():
        dataset = Dataset.objects.create(
            id=dataset_id,
            owner=owner,
            name=clean_name(name, fallback=clean_name(original_name, "upload.csv")),
            size_bytes=size,
            stored_bytes=size,
            source_format="parquet" if source.suffix == ".parquet" else "csv",
            encoding=dialect.encoding,
            delimiter=dialect.delimiter,
            columns=[{"name": c, "type": None} for c in dialect.columns],
            source_file=relative(source),
        )
        task = Task.objects.create(owner=owner, dataset=dataset, operation=ingest_job().name, parameters={})
        task_enqueue_on_commit(task)
        return dataset, task

    def cleanup(created):
        created[0].delete()
        discard(folder)

    try:
        return create_and_enqueue(create, cleanup)
    except BaseException:
        if not Dataset.objects.filter(id=dataset_id).exists():
            discard(folder)
            release(owner.id, size)
        raise


def dataset_delete(dataset: Dataset) -> None:
    """Delete a dataset, its tasks and every file of theirs; their owners get the bytes back; the schedules that
    read it are paused, saying why."""
    from .schedules import schedules_pause_for_dataset  # schedules submit through the tasks service, which needs this one

    dataset_id, owner_id = dataset.id, dataset.owner_id  # delete() clears the instance's primary key
    with transaction.atomic():
        tasks = list(dataset.tasks.select_for_update().values_list("id", "owner_id", "stored_bytes"))
        Task.objects.filter(id__in=[t[0] for t in tasks], status__in=[Task.Status.PENDING, Task.Status.STARTED]).update(
            status=Task.Status.REVOKED
        )
        stored = Dataset.objects.filter(id=dataset_id).values_list("stored_bytes", flat=True).first() or 0
        schedules_pause_for_dataset(dataset_id, f"The dataset '{dataset.name}' this schedule read was deleted.")
        dataset.delete()
        release(owner_id, stored)
        for _, task_owner, task_bytes in tasks:
            release(task_owner, task_bytes)
    discard(dataset_dir(dataset_id))
    for task_id, _, _ in tasks:
        discard(result_dir(task_id))


def user_resolve(identifier: str, *, owner_id: int, what: str):
    """The user with this email (an identifier with an @ matches emails only) or username, who is not the owner."""
    ident = (identifier or "").strip()
    match = Q(email__iexact=ident) if "@" in ident else Q(username__iexact=ident)
    user = get_user_model().objects.filter(match).order_by("id").first()
    if user is None:
        raise NotFound(f"No user '{ident}' was found.", {"user": ["unknown user"]})
    if user.pk == owner_id:
        raise Invalid(f"The owner already has access to this {what}.", {"user": ["that is the owner"]})
    return user


def share_grant(share_model, target: str, obj, user_identifier: str):
    """Give the user named by email or username read access to `obj` (a dataset or a task)."""
    user = user_resolve(user_identifier, owner_id=obj.owner_id, what=target)
    share, _ = share_model.objects.get_or_create(**{target: obj}, user=user)
    return share


def share_revoke(share_model, target: str, obj, user_id: int) -> None:
    deleted, _ = share_model.objects.filter(**{target: obj}, user_id=user_id).delete()
    if not deleted:
        raise NotFound(f"This {target} is not shared with user {user_id}.")


def dataset_share(*, dataset: Dataset, user_identifier: str) -> DatasetShare:
    return share_grant(DatasetShare, "dataset", dataset, user_identifier)


def dataset_unshare(*, dataset: Dataset, user_id: int) -> None:
    share_revoke(DatasetShare, "dataset", dataset, user_id)


def dataset_from_task(*, task: Task, owner, name: str | None) -> tuple[Dataset, Task]:
    """A new dataset that will hold a task's table result: created PENDING with the job that writes it (linked,
    or written out for a selection: seconds per 10 M rows, so never inside the request)."""
    result = task_result_kept(task)
    if result is None or result.table() is None:
        raise Conflict("Only a successful task with a table result can be saved as a dataset.")
    quota = quota_bytes()
    if quota is not None and storage_used(owner.id) >= quota:
        raise TooLarge(over_quota_sentence("Saving this result as a dataset", None, owner.id),
                       {"quota": [f"used {storage_used(owner.id)} of {quota} bytes"]})

    def create():
        dataset = Dataset.objects.create(
            owner=owner, name=clean_name(name, fallback=f"{task.operation} of {task.dataset.name}"),
            columns=task.result_columns, origin_task=task,
        )
        job = Task.objects.create(owner=owner, dataset=dataset, source_task=task, reads_task_result=True,
                                  operation=save_job().name, parameters={})
        task_enqueue_on_commit(job)
        return dataset, job

    return create_and_enqueue(create, lambda created: created[0].delete())


def dataset_mark_failed(dataset_id, reason: str) -> None:
    """A dataset whose ingest ended without success is FAILED with the reason (a READY one stays READY)."""
    Dataset.objects.filter(id=dataset_id).exclude(status=Dataset.Status.READY).update(
        status=Dataset.Status.FAILED, error=reason
    )


def source_cleanup(dataset: Dataset) -> None:
    """The CSV is parsed once: after a successful ingest only the Parquet file is kept."""
    if dataset.source_file:
        discard(dataset.source_file)



def datasets_purge_expired(now=None) -> int:
    """Remove datasets (with their tasks and files) and task results older than RETENTION_DAYS."""
    from datetime import timedelta

    days = settings.RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    removed = 0
    for dataset in Dataset.objects.filter(created_at__lt=cutoff):
        dataset_delete(dataset)
        removed += 1
    old_tasks = Task.objects.filter(created_at__lt=cutoff).exclude(operation__in=dataset_jobs()).exclude(
        status__in=[Task.Status.PENDING, Task.Status.STARTED])
    for task_id, owner_id, stored in list(old_tasks.values_list("id", "owner_id", "stored_bytes")):
        if Task.objects.filter(id=task_id).delete()[0]:
            release(owner_id, stored)
        discard(result_dir(task_id))
        removed += 1
    return removed
