"""Reading datasets and tasks as a given user may see them; anything else is 404."""
import uuid
from pathlib import PurePosixPath

from django.db.models import Q, QuerySet

from analytics_app.engine.results import PROFILE_FILE, Result
from analytics_app.engine.summary import load_profile
from analytics_app.engine.tables import Table

from .exceptions import NotFound
from .models import Dataset, Schedule, Task
from .storage import local_path, stored_files, stored_files_exist, stored_path


def _uuid_or_404(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise NotFound() from None


def datasets_visible_to(user) -> QuerySet:
    own_or_shared = Q(owner=user) | Q(id__in=Dataset.objects.filter(shares__user=user).values("id"))
    return Dataset.objects.filter(own_or_shared).select_related("owner")


def dataset_get_for_user(user, dataset_id) -> Dataset:
    try:
        return datasets_visible_to(user).get(id=_uuid_or_404(dataset_id))
    except Dataset.DoesNotExist:
        raise NotFound() from None


def _own_with_access(user) -> Q:
    """The user's own tasks on data they may still read: their own datasets, datasets still shared with them, or
    datasets one of whose results is shared with them (what they derived from that result). A revoked share
    takes every result the grantee derived from that dataset with it (chained ones too: they read the same
    dataset); a result they saved as a dataset of their own stays theirs."""
    still_shared = Dataset.objects.filter(shares__user=user).values("id")
    result_shared = Task.objects.filter(shares__user=user).values("dataset_id")
    return Q(owner=user) & (Q(dataset__owner=user) | Q(dataset_id__in=still_shared) | Q(dataset_id__in=result_shared))


def tasks_of_user(user) -> QuerySet:
    return Task.objects.filter(_own_with_access(user)).select_related("dataset", "owner")


def tasks_visible_to(user) -> QuerySet:
    own_or_shared = _own_with_access(user) | Q(id__in=Task.objects.filter(shares__user=user).values("id"))
    return Task.objects.filter(own_or_shared).select_related("dataset", "source_task", "owner")


def task_get_for_user(user, task_id) -> Task:
    """A task the user owns or that was shared with them; 404 otherwise."""
    try:
        return tasks_visible_to(user).get(id=_uuid_or_404(task_id))
    except Task.DoesNotExist:
        raise NotFound() from None


def schedule_get_for_owner(user, schedule_id) -> Schedule:
    """The user's own schedule; 404 for anyone else's, as for one that does not exist."""
    try:
        return Schedule.objects.get(id=_uuid_or_404(schedule_id), owner=user)
    except Schedule.DoesNotExist:
        raise NotFound() from None


def task_status(task_id) -> str | None:
    return Task.objects.filter(id=task_id).values_list("status", flat=True).first()


def task_result(task: Task, fetch: bool = True) -> Result | None:
    """What a finished task produced (an ingest's is its dataset's table), where it is stored, or None. Its files
    are on this host's disk; not `fetch`ed, they are there only if this host has them already (what it is, its
    row count, columns and value, never need them)."""
    if task.status != Task.Status.SUCCESS or not task.result_files:
        return None
    names = task.result_files.values()
    folder = stored_files(task.result_dir, names) if fetch else local_path(task.result_dir)
    return Result(files=task.result_files, row_count=task.result_row_count, columns=task.result_columns,
                  value=task.result_value, folder=folder)


def task_result_kept(task: Task) -> Result | None:
    """A finished task's result when all of its files are still kept (not fetched: see task_result), else None."""
    result = task_result(task, fetch=False)
    if result is None or not stored_files_exist(task.result_dir, task.result_files.values()):
        return None
    return result


def task_result_table(task: Task, fetch: bool = True) -> Table | None:
    """The table a finished task produced, or None (it failed, or produced a picture only)."""
    result = task_result(task, fetch)
    return result.table() if result is not None else None


def dataset_table(dataset: Dataset) -> Table | None:
    """A READY dataset's table."""
    return Table(stored_path(dataset.parquet_file)) if dataset.parquet_file else None


def dataset_profile_saved(dataset: Dataset) -> dict | None:
    """A READY dataset's saved column profile, or None while it has none."""
    if dataset.status != Dataset.Status.READY or not dataset.parquet_file or not dataset.profiled:
        return None
    # The profile alone: on an object store, reading it never fetches the table beside it.
    path = stored_path(str(PurePosixPath(dataset.parquet_file).with_name(PROFILE_FILE)))
    return load_profile(path) if path.exists() else None
