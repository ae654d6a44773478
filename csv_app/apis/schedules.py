"""Recurring jobs: create (an operation request plus `cron`/`timezone` or `every`), list, read, pause, resume,
delete, and the tasks each run made."""
from django.urls import reverse
from drf_yasg.utils import swagger_auto_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ..models import Schedule
from ..pagination import PAGE_PARAMETERS, PagePagination
from ..services.schedules import MIN_EVERY_SECONDS, schedule_create, schedule_delete, schedule_resume, \
    schedule_set_enabled
from ..selectors import schedule_get_for_owner, tasks_of_user
from .accounts import error_response
from .tasks import OperationRequestHead, TaskOutputSerializer, read_operation_request


class ScheduleOutputSerializer(serializers.ModelSerializer):
    file_id = serializers.UUIDField(source="dataset_id", allow_null=True)
    task_id = serializers.UUIDField(source="source_task_id", allow_null=True,
                                    help_text="The task result it reads, when it reads one.")
    every = serializers.IntegerField(source="every_seconds", allow_null=True)
    runs_url = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = ["id", "operation", "parameters", "file_id", "task_id", "cron", "timezone", "every", "callback_url",
                  "enabled", "paused_reason", "created_at", "last_run_at", "runs_url"]

    def get_runs_url(self, schedule) -> str:
        return reverse("schedule-runs", args=[schedule.id])


class ScheduleInputSerializer(OperationRequestHead):
    class Meta:
        ref_name = "ScheduleInput"

    cron = serializers.CharField(required=False, max_length=120,
                                 help_text="Five fields: minute hour day-of-month month day-of-week ('0 6 * * 1-5').")
    timezone = serializers.CharField(required=False, default="UTC", max_length=64,
                                     help_text="The cron line's IANA timezone (default UTC).")
    every = serializers.IntegerField(required=False, min_value=1, max_value=366 * 24 * 3600,
                                     help_text=f"Or: run every this many seconds (at least {MIN_EVERY_SECONDS}).")
    callback_url = serializers.CharField(required=False, max_length=2000,
                                         help_text="Each run's completion is POSTed here (see perform-operation).")


def schedule_body(schedule: Schedule) -> dict:
    return ScheduleOutputSerializer(schedule).data


class ScheduleListApi(APIView):
    @swagger_auto_schema(operation_summary="Your schedules", manual_parameters=PAGE_PARAMETERS,
                         responses={200: ScheduleOutputSerializer(many=True)}, tags=["schedules"])
    def get(self, request):
        paginator = PagePagination()
        page = paginator.paginate_queryset(Schedule.objects.filter(owner=request.user), request, view=self)
        return paginator.get_paginated_response([schedule_body(s) for s in page])

    @swagger_auto_schema(
        operation_summary="Create a recurring job",
        operation_description="The body of POST /api/perform-operation/ (`file_id` or `task_id`, `operation`, its "
        "parameters beside it) plus when: `cron` (five fields) with an optional `timezone`, or `every` seconds "
        f"(at least {MIN_EVERY_SECONDS}). Each run is an ordinary task, listed at `runs_url`.",
        request_body=ScheduleInputSerializer,
        responses={201: ScheduleOutputSerializer, 400: error_response("Bad schedule or parameters"),
                   404: error_response("Unknown dataset"), 429: error_response("Too many schedules")},
        tags=["schedules"])
    def post(self, request):
        req = read_operation_request(request, ScheduleInputSerializer)
        schedule = schedule_create(user=request.user, dataset=req.dataset, source_task=req.source_task,
                                   operation=req.operation, params=req.params, cron=req.head.get("cron"),
                                   tz=req.head.get("timezone") or "UTC", every=req.head.get("every"),
                                   callback_url=req.head.get("callback_url", ""),
                                   callback_origin=request.build_absolute_uri("/").rstrip("/"))
        return Response(schedule_body(schedule), status=status.HTTP_201_CREATED)


class ScheduleDetailApi(APIView):
    @swagger_auto_schema(operation_summary="A schedule", responses={200: ScheduleOutputSerializer}, tags=["schedules"])
    def get(self, request, schedule_id):
        return Response(schedule_body(schedule_get_for_owner(request.user, schedule_id)))

    @swagger_auto_schema(operation_summary="Delete a schedule (its runs stay, as tasks)", responses={204: "Deleted"},
                         tags=["schedules"])
    def delete(self, request, schedule_id):
        schedule_delete(schedule_get_for_owner(request.user, schedule_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SchedulePauseApi(APIView):
    @swagger_auto_schema(operation_summary="Pause a schedule", responses={200: ScheduleOutputSerializer},
                         tags=["schedules"])
    def post(self, request, schedule_id):
        return Response(schedule_body(schedule_set_enabled(schedule_get_for_owner(request.user, schedule_id), False,
                                                           "Paused by its owner.")))


class ScheduleResumeApi(APIView):
    @swagger_auto_schema(operation_summary="Resume a paused schedule",
                         responses={200: ScheduleOutputSerializer, 409: error_response("Its input is gone")},
                         tags=["schedules"])
    def post(self, request, schedule_id):
        return Response(schedule_body(schedule_resume(schedule_get_for_owner(request.user, schedule_id))))


class ScheduleRunsApi(APIView):
    @swagger_auto_schema(operation_summary="The tasks a schedule's runs made, newest first",
                         manual_parameters=PAGE_PARAMETERS,
                         responses={200: TaskOutputSerializer(many=True)}, tags=["schedules"])
    def get(self, request, schedule_id):
        schedule = schedule_get_for_owner(request.user, schedule_id)
        paginator = PagePagination()
        # Only the runs the owner may still read: a share taken back takes the runs over it with it.
        runs = tasks_of_user(request.user).filter(schedule=schedule).order_by("-created_at")
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(
            [TaskOutputSerializer(t, context={"request": request, "n": 0}).data for t in page])
