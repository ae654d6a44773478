"""Recurring jobs on django-celery-beat's database scheduler: a Schedule row owns a PeriodicTask that calls
csv_app.tasks.run_schedule; each run submits the operation as an ordinary task of the schedule's owner."""
import json
import logging
import zoneinfo

from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from analytics_app.registry import InvalidParameters

from ..exceptions import Conflict, DomainError, Invalid, NotFound, TooMany
from ..models import Dataset, Schedule, Task
from ..selectors import dataset_get_for_user, task_get_for_user
from .tasks import operation_validate, task_submit
from .webhooks import callback_check

logger = logging.getLogger("ravid.schedules")
RUN_SCHEDULE = "csv_app.tasks.run_schedule"
MIN_EVERY_SECONDS = 60


def _cron_fields(cron: str, tz: str) -> dict:
    """The five fields of a cron line, checked; Invalid naming the field otherwise."""
    parts = cron.split()
    if len(parts) != 5:
        raise Invalid(f"A cron schedule has five fields (minute hour day-of-month month day-of-week); "
                      f"'{cron}' has {len(parts)}.", {"cron": ["five fields, e.g. '0 6 * * 1-5'"]})
    fields = dict(zip(["minute", "hour", "day_of_month", "month_of_year", "day_of_week"], parts))
    try:
        crontab(**fields)
    except (ValueError, TypeError, IndexError) as exc:
        raise Invalid(f"The cron line '{cron}' is not valid: {str(exc).rstrip('.')}.", {"cron": ["five fields, e.g. '0 6 * * 1-5'"]}) from None
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Unknown timezone '{tz}'; use an IANA name such as 'UTC' or 'Europe/Paris'.",
                      {"timezone": ["an IANA timezone name, e.g. 'Europe/Paris'"]}) from None
    return fields


def _when(cron: str | None, tz: str, every: int | None) -> dict:
    if bool(cron) == (every is not None):
        raise Invalid("Give either 'cron' (five fields, with an optional 'timezone') or 'every' (seconds, at least "
                      f"{MIN_EVERY_SECONDS}), not both or neither.", {"cron": ["or every"], "every": ["or cron"]})
    if every is not None:
        if every < MIN_EVERY_SECONDS:
            raise Invalid(f"'every' is at least {MIN_EVERY_SECONDS} seconds; {every} was given.",
                          {"every": [f"at least {MIN_EVERY_SECONDS}"]})
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
        return {"interval": interval}
    fields = _cron_fields(cron, tz)
    schedule, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=tz)
    return {"crontab": schedule}


def schedule_create(*, user, dataset: Dataset, source_task: Task | None, operation: str, params: dict,
                    cron: str | None, tz: str, every: int | None, callback_url: str = "",
                    callback_origin: str = "") -> Schedule:
    """Check the request as a submit would (the parameters against the input), then create the schedule and its
    beat entry in one transaction."""
    count = Schedule.objects.filter(owner=user).count()
    if count >= settings.USER_MAX_SCHEDULES:
        raise TooMany(f"You have {count} schedules; at most {settings.USER_MAX_SCHEDULES} (USER_MAX_SCHEDULES). "
                      "Delete one you no longer need.")
    clean = operation_validate(dataset=dataset, operation=operation, params=params, source_task=source_task)
    if callback_url:
        callback_check(callback_url)
    with transaction.atomic():
        when = _when(cron, tz, every)
        schedule = Schedule.objects.create(
            owner=user, dataset=dataset, source_task=source_task, reads_task_result=source_task is not None,
            operation=operation, parameters=clean, cron=cron or "", timezone=tz if cron else "UTC",
            every_seconds=every, callback_url=callback_url, callback_origin=callback_origin[:255],
        )
        schedule.periodic_task = PeriodicTask.objects.create(
            name=f"ravid schedule {schedule.id}", task=RUN_SCHEDULE, args=json.dumps([str(schedule.id)]),
            **when,
        )
        schedule.save(update_fields=["periodic_task"])
    return schedule


def schedule_set_enabled(schedule: Schedule, enabled: bool, reason: str = "") -> Schedule:
    with transaction.atomic():
        Schedule.objects.filter(id=schedule.id).update(enabled=enabled, paused_reason="" if enabled else reason)
        if schedule.periodic_task_id:
            periodic = PeriodicTask.objects.get(id=schedule.periodic_task_id)
            periodic.enabled = enabled
            periodic.save()  # through save(), so beat's database scheduler notices the change
    schedule.refresh_from_db()
    return schedule


def schedule_resume(schedule: Schedule) -> Schedule:
    if schedule.dataset_id is None or (schedule.reads_task_result and schedule.source_task_id is None):
        raise Conflict(f"This schedule cannot run again: {schedule.paused_reason or 'its input is gone.'}")
    return schedule_set_enabled(schedule, True)


def schedule_delete(schedule: Schedule) -> None:
    with transaction.atomic():
        periodic = schedule.periodic_task_id
        schedule.delete()
        if periodic:
            PeriodicTask.objects.filter(id=periodic).delete()


def schedules_pause_for_dataset(dataset_id, reason: str) -> None:
    """The dataset a schedule reads is gone: pause it, saying why (it is kept, with its runs, until deleted)."""
    for schedule in Schedule.objects.filter(dataset_id=dataset_id, enabled=True):
        schedule_set_enabled(schedule, False, reason)


def schedule_run(schedule_id) -> Task | None:
    """One run: the operation submitted as the owner's task. A schedule whose input is gone, or that the owner
    may no longer read, is paused with the reason; a run refused for a passing reason (too many jobs queued) is
    skipped and the next one tries again. Returns the task, or None."""
    schedule = Schedule.objects.select_related("owner", "dataset", "source_task").filter(id=schedule_id).first()
    if schedule is None or not schedule.enabled:
        return None
    Schedule.objects.filter(id=schedule.id).update(last_run_at=timezone.now())
    try:
        if schedule.dataset_id is None:
            raise NotFound("The dataset this schedule reads was deleted.")
        source = None
        if schedule.reads_task_result:  # a result shared with its owner is read without the dataset's share
            if schedule.source_task_id is None:
                raise NotFound("The task result this schedule reads was deleted.")
            try:
                source = task_get_for_user(schedule.owner, schedule.source_task_id)
            except NotFound:
                raise NotFound("You can no longer read the task result this schedule reads.") from None
            dataset = source.dataset
        else:
            try:
                dataset = dataset_get_for_user(schedule.owner, schedule.dataset_id)
            except NotFound:
                raise NotFound("You can no longer read this schedule's dataset.") from None
        task, _ = task_submit(user=schedule.owner, dataset=dataset, operation=schedule.operation,
                              params=schedule.parameters, source_task=source, fresh=True, schedule=schedule,
                              callback_url=schedule.callback_url, callback_origin=schedule.callback_origin)
        return task
    except TooMany as exc:
        logger.warning("schedule run skipped", extra={"schedule_id": str(schedule.id), "reason": exc.message})
        return None
    except NotFound as exc:
        schedule_set_enabled(schedule, False, exc.message)
    except DomainError as exc:
        schedule_set_enabled(schedule, False, f"The operation can no longer run: {exc.message}")
    except InvalidParameters as exc:
        schedule_set_enabled(schedule, False, f"The operation can no longer run: {exc.sentence}")
    return None
