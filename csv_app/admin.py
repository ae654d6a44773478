"""Admin for datasets, shares, tasks and schedules, with filters, search and retry/cancel actions."""
from django.contrib import admin, messages

from .models import Dataset, DatasetShare, Schedule, Task
from .services.tasks import task_cancel, task_retry


class DatasetShareInline(admin.TabularInline):
    model = DatasetShare
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "status", "size_bytes", "row_count", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["name", "owner__username", "owner__email", "id"]
    readonly_fields = ["id", "size_bytes", "row_count", "columns", "encoding", "delimiter", "source_file", "parquet_file", "created_at", "updated_at"]
    raw_id_fields = ["owner", "origin_task"]
    inlines = [DatasetShareInline]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "operation", "owner", "status", "attempts", "duration", "created_at"]
    list_filter = ["status", "operation", "created_at"]
    search_fields = ["id", "owner__username", "dataset__name", "error"]
    readonly_fields = [f.name for f in Task._meta.fields]
    actions = ["retry", "cancel"]

    @admin.display(description="seconds")
    def duration(self, obj):
        return obj.duration_seconds

    @admin.action(description="Retry the selected failed or cancelled tasks")
    def retry(self, request, queryset):
        count = sum(task_retry(task) for task in queryset)
        self.message_user(request, f"{count} task(s) requeued.", messages.SUCCESS)

    @admin.action(description="Cancel the selected queued or running tasks")
    def cancel(self, request, queryset):
        count = 0
        for task in queryset.filter(status__in=[Task.Status.PENDING, Task.Status.STARTED]):
            task_cancel(task)
            count += 1
        self.message_user(request, f"{count} task(s) cancelled.", messages.SUCCESS)


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["id", "operation", "owner", "cron", "timezone", "every_seconds", "enabled", "paused_reason",
                    "last_run_at"]
    list_filter = ["enabled", "operation"]
    search_fields = ["id", "owner__username", "dataset__name", "paused_reason"]
    readonly_fields = [f.name for f in Schedule._meta.fields]
