"""Datasets (uploaded files), who they are shared with, and tasks: the row that is the truth about a job."""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Dataset(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        READY = "READY"
        FAILED = "FAILED"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    error = models.TextField(blank=True, default="")
    size_bytes = models.BigIntegerField(default=0)
    # What the dataset's files take on disk and count against its owner's quota (the upload, then its table).
    stored_bytes = models.BigIntegerField(default=0)
    row_count = models.BigIntegerField(null=True, blank=True)
    columns = models.JSONField(default=list, blank=True)
    source_format = models.CharField(max_length=16, blank=True, default="csv")  # csv or parquet: what ingest reads
    encoding = models.CharField(max_length=32, blank=True, default="")
    delimiter = models.CharField(max_length=4, blank=True, default="")
    source_file = models.CharField(max_length=512, blank=True, default="")
    parquet_file = models.CharField(max_length=512, blank=True, default="")
    # Its column profile (profile.json beside the table) is kept: computed by a follow-up job once it is READY.
    profiled = models.BooleanField(default=False)
    # When its profile job was last queued, and how many times: the sweep queues a lost one again, a few times.
    profile_queued_at = models.DateTimeField(null=True, blank=True)
    profile_attempts = models.PositiveSmallIntegerField(default=0)
    origin_task = models.ForeignKey(
        "Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="saved_datasets"
    )
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="DatasetShare", related_name="shared_datasets", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.status})"

    def state_sentence(self) -> str:
        return "The dataset is still being ingested" if self.status == self.Status.PENDING else "The dataset failed to ingest"


class DatasetShare(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dataset_shares")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "user"], name="unique_dataset_share")]


class Task(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        STARTED = "STARTED"
        SUCCESS = "SUCCESS"
        FAILURE = "FAILURE"
        REVOKED = "REVOKED"

    FINISHED = (Status.SUCCESS, Status.FAILURE, Status.REVOKED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="tasks")
    source_task = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived_tasks",
        help_text="When set, the operation reads this task's result instead of the dataset.",
    )
    reads_task_result = models.BooleanField(default=False)
    shared_with = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TaskShare", related_name="shared_tasks", blank=True
    )
    operation = models.CharField(max_length=32, db_index=True)
    parameters = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=64, db_index=True, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress_current = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=100)
    stage = models.CharField(max_length=32, blank=True, default="queued")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When its message was last published (created, requeued): the sweep's lost-message check counts from here.
    enqueued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # What the job produced (analytics_app's Result): its kind, its folder and the file each part is in.
    result_kind = models.CharField(max_length=16, blank=True, default="")
    result_dir = models.CharField(max_length=512, blank=True, default="")
    result_files = models.JSONField(default=dict, blank=True)
    result_row_count = models.BigIntegerField(null=True, blank=True)
    result_columns = models.JSONField(default=list, blank=True)
    result_value = models.JSONField(null=True, blank=True)
    schedule = models.ForeignKey("Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs",
                                 help_text="The recurring job this task is a run of.")
    # A completion webhook: where the task's body is POSTed when it ends, and how that delivery stands.
    callback_url = models.URLField(max_length=2000, blank=True, default="")
    callback_origin = models.CharField(max_length=255, blank=True, default="",
                                       help_text="The scheme and host the task was submitted to: its links' base.")
    webhook_status = models.CharField(max_length=16, blank=True, default="")  # pending, delivered, failed
    webhook_next_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Where the last attempt's time went, in seconds: queued_s, claim_s, compute_s, store_s.
    timings = models.JSONField(default=dict, blank=True)
    # What the result's own files take (not those it shares with its dataset), export copies included.
    stored_bytes = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="task_status_heartbeat")]

    def __str__(self):
        return f"{self.operation} {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration_seconds(self):
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class TaskShare(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_shares")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "user"], name="unique_task_share")]


class StorageUse(models.Model):
    """The bytes a user keeps (datasets, results, export copies): reserved in one conditional UPDATE before a file
    is kept, so concurrent uploads and jobs can never take a user past USER_QUOTA_BYTES."""
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="storage_use")
    used_bytes = models.BigIntegerField(default=0)


class Schedule(models.Model):
    """A recurring job: an operation request run on a cron line (in a timezone) or every N seconds, by
    django-celery-beat's database scheduler (its PeriodicTask calls csv_app.tasks.run_schedule). Each run is an
    ordinary task pointing back here. Paused by its owner, or by ravid with a reason (its dataset was deleted)."""
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules")
    source_task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules")
    reads_task_result = models.BooleanField(default=False)
    operation = models.CharField(max_length=32)
    parameters = models.JSONField(default=dict, blank=True)
    cron = models.CharField(max_length=120, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="UTC")
    every_seconds = models.PositiveIntegerField(null=True, blank=True)
    callback_url = models.URLField(max_length=2000, blank=True, default="")
    callback_origin = models.CharField(max_length=255, blank=True, default="")
    enabled = models.BooleanField(default=True)
    paused_reason = models.CharField(max_length=255, blank=True, default="")
    periodic_task = models.OneToOneField("django_celery_beat.PeriodicTask", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="ravid_schedule")
    created_at = models.DateTimeField(auto_now_add=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class WebhookDelivery(models.Model):
    """One attempt to deliver a task's completion webhook."""
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="webhook_deliveries")
    attempt = models.PositiveSmallIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["attempt"]


class WebhookSecret(models.Model):
    """The key a user's webhooks are signed with (HMAC-SHA256 of the body)."""
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="webhook_secret")
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now=True)
