"""A dataset's column profile, computed by a follow-up job once the dataset is READY: the dataset is usable as soon
as its table is kept, and `summary` on it answers from the profile once that is there (and computes it before)."""
import logging
import uuid
from datetime import timedelta
from pathlib import Path

import duckdb
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from analytics_app.engine.errors import EngineError
from analytics_app.engine.execution import run_with_progress
from analytics_app.engine.results import PROFILE_FILE
from analytics_app.engine.summary import save_profile, summarize
from analytics_app.engine.tables import Table
from ravid_project.celery import app as celery_app

from ..models import Dataset
from ..storage import StorageUnavailable, discard, engine, keep, pin, relative, remove_tree, stored_table_file
from .queue import queue_for_rows
from .quota import dataset_recount

logger = logging.getLogger("ravid.profile")
PROFILE_TASK = "csv_app.tasks.profile_dataset"
LAST = 9  # the lowest priority: a profile never goes before a user's job


def profile_enqueue_on_commit(dataset_id, row_count: int | None) -> None:
    """Queue the dataset's profile once the surrounding transaction commits (PROFILE_ON_INGEST)."""
    if settings.PROFILE_ON_INGEST:
        transaction.on_commit(lambda: _publish(str(dataset_id), row_count or 0))


def _publish(dataset_id: str, row_count: int, queued_at=None, attempts: int | None = None) -> bool:
    """Record the queueing (an attempt more), then queue the profile job. With `queued_at` and `attempts` (what the
    sweep saw), only if nobody queued it since. False when it was not queued; a message that cannot be sent is
    logged and left to the sweep."""
    row = Dataset.objects.filter(id=dataset_id)
    if attempts is not None:
        row = row.filter(profile_queued_at=queued_at, profile_attempts=attempts)
    if not row.update(profile_queued_at=timezone.now(), profile_attempts=F("profile_attempts") + 1):
        return False
    try:
        celery_app.send_task(PROFILE_TASK, args=[dataset_id], queue=queue_for_rows(row_count), priority=LAST)
    except Exception:  # the dataset is READY either way; summary computes when asked, the sweep queues it again
        logger.warning("could not queue the dataset's profile", extra={"dataset_id": dataset_id}, exc_info=True)
        return False
    return True


def profiles_requeue_lost(limit: int = 100) -> int:
    """Queue again the profiles of READY datasets still without one PROFILE_REQUEUE_SECONDS after theirs was queued
    (a lost message, a worker gone with it, a store that was down), each at most PROFILE_MAX_ATTEMPTS times in all:
    a profile that keeps failing, or kills its worker, is given up and `summary` computes. At most `limit` per
    sweep. Returns how many were queued."""
    if not settings.PROFILE_ON_INGEST:
        return 0
    before = timezone.now() - timedelta(seconds=settings.PROFILE_REQUEUE_SECONDS)
    lost = (Dataset.objects.filter(status=Dataset.Status.READY, profiled=False,
                                   profile_attempts__lt=settings.PROFILE_MAX_ATTEMPTS)
            .exclude(parquet_file="")
            .filter(Q(profile_queued_at__lt=before) | Q(profile_queued_at__isnull=True, updated_at__lt=before))
            .order_by("updated_at")
            .values_list("id", "row_count", "profile_queued_at", "profile_attempts")[:limit])
    return sum(_publish(str(dataset_id), row_count or 0, queued_at, attempts)
               for dataset_id, row_count, queued_at, attempts in lost)


def dataset_profile(dataset_id) -> str:
    """Compute and keep a READY dataset's profile beside its table, then mark it profiled. Returns what happened:
    'profiled', 'skipped' (gone, not READY or already profiled) or 'failed' (logged; summaries compute instead)."""
    dataset = Dataset.objects.filter(id=dataset_id, status=Dataset.Status.READY).first()
    if dataset is None or dataset.profiled or not dataset.parquet_file:
        return "skipped"
    pins = Path(settings.WORK_TMP_DIR) / "pins" / f"profile-{uuid.uuid4().hex}"
    target = None
    try:
        table_file = stored_table_file(dataset.parquet_file)
        if not table_file.exists():  # deleted meanwhile
            return "skipped"
        pin([table_file], pins)  # the cache never evicts the table under the profile
        names = [c["name"] for c in dataset.columns]
        with engine() as con:
            profile = run_with_progress(con, lambda c: summarize(c, Table(table_file), dataset.columns, names),
                                        "profiling")
        target = table_file.with_name(PROFILE_FILE)
        save_profile(profile, target)
        keep(relative(target))
    except (duckdb.Error, EngineError, MemoryError, OSError, ValueError, StorageUnavailable):
        logger.warning("profiling the dataset failed; summaries will be computed when asked",
                       extra={"dataset_id": str(dataset_id)}, exc_info=True)
        return "failed"
    finally:
        remove_tree(pins)
    marked = Dataset.objects.filter(id=dataset.id, status=Dataset.Status.READY,
                                    parquet_file=dataset.parquet_file).update(profiled=True)
    if not marked:  # deleted while it was profiled: nothing of it stays
        try:
            discard(target)
        except StorageUnavailable:
            logger.warning("could not remove a deleted dataset's profile from the file store")
        return "skipped"

    dataset_recount(dataset)  # the profile counts against its owner's quota like the table
    return "profiled"
