"""Reading datasets and tasks as a given user may see them; anything else is 404."""
import uuid
from pathlib import PurePosixPath

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from analytics_app.engine.results import PROFILE_FILE, Result
from analytics_app.engine.summary import load_profile
from analytics_app.engine.tables import Table

from .exceptions import NotFound
from .models import Dataset, Schedule, Task, TaskShare
from .storage import local_path, stored_files, stored_files_exist, stored_path


def _not_found(kind: str, value) -> NotFound:
    """The same 404 for what does not exist and for what is someone else's, naming what was asked for."""
    whose = "yours" if kind == "schedule" else "yours or shared with you"  # a schedule is never shared
    return NotFound(f"No {kind} '{str(value)[:64]}' is {whose}.")


def _uuid_or_404(value, kind: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise _not_found(kind, value) from None


def datasets_visible_to(user) -> QuerySet:
    own_or_shared = Q(owner=user) | Q(id__in=Dataset.objects.filter(shares__user=user).values("id"))
    return Dataset.objects.filter(own_or_shared).select_related("owner")


def dataset_get_for_user(user, dataset_id) -> Dataset:
    try:
        return datasets_visible_to(user).get(id=_uuid_or_404(dataset_id, "dataset"))
    except Dataset.DoesNotExist:
        raise _not_found("dataset", dataset_id) from None


def _shared_results_and_chains(user) -> RawSQL:
    """The ids of the tasks shared with the user, and of the user's own tasks chained on those (at any depth)."""
    q = connection.ops.quote_name
    task, task_share = q(Task._meta.db_table), q(TaskShare._meta.db_table)
    return RawSQL(
        f"WITH RECURSIVE derived (id) AS (SELECT task_id FROM {task_share} WHERE user_id = %s "
        f"UNION SELECT t.id FROM {task} t JOIN derived d ON t.source_task_id = d.id WHERE t.owner_id = %s) "
        f"SELECT id FROM derived", [user.id, user.id])


def _readable(user) -> Q:
    """The tasks the user may read: their own on a dataset they own or that is still shared with them, those shared
    with them, and their own chained on those. So a revoked dataset share takes with it every result the grantee
    computed from that dataset (chained ones too), except what they derived from a result of it still shared with
    them; a result they saved as a dataset of their own stays theirs (the dataset is theirs)."""
    still_shared = Dataset.objects.filter(shares__user=user).values("id")
    own = Q(owner=user) & (Q(dataset__owner=user) | Q(dataset_id__in=still_shared))
    return own | Q(id__in=_shared_results_and_chains(user))


def tasks_of_user(user) -> QuerySet:
    return Task.objects.filter(_readable(user), owner=user).select_related("dataset", "owner")


def tasks_visible_to(user) -> QuerySet:
    return Task.objects.filter(_readable(user)).select_related("dataset", "source_task", "owner")


def task_get_for_user(user, task_id) -> Task:
    """A task the user owns or that was shared with them; 404 otherwise."""
    try:
        return tasks_visible_to(user).get(id=_uuid_or_404(task_id, "task"))
    except Task.DoesNotExist:
        raise _not_found("task", task_id) from None


def schedule_get_for_owner(user, schedule_id) -> Schedule:
    """The user's own schedule; 404 for anyone else's, as for one that does not exist."""
    try:
        return Schedule.objects.get(id=_uuid_or_404(schedule_id, "schedule"), owner=user)
    except Schedule.DoesNotExist:
        raise _not_found("schedule", schedule_id) from None


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
