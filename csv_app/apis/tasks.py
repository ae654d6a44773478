"""Submit operations and follow them: status, rows, download, cancel, delete, list."""
from dataclasses import dataclass
from typing import Any

from urllib.parse import urlsplit

from django.conf import settings
from django.http import FileResponse
from django.test import RequestFactory
from django.urls import reverse
from drf_yasg import openapi
from drf_yasg.utils import swagger_auto_schema, swagger_serializer_method
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_app.engine.results import CONTENT_TYPES
from analytics_app.engine.rows import head
from analytics_app.engine.tables import Table
from analytics_app.operations.checks import Choice
from analytics_app.registry import all_operations

from ..errors import ApiError
from ..models import Task
from ..pagination import PAGE_PARAMETERS, PagePagination, PageQuery
from ..selectors import (
    dataset_get_for_user, task_get_for_user, task_result, task_result_table, tasks_of_user, tasks_visible_to,
)
from ..services.datasets import dataset_from_task
from ..services.waiting import BUSY, CHANGED, UNCHANGED, task_eta_seconds, task_percent, task_revision, task_wait
from ..services.tasks import task_cancel, task_delete, task_download, task_share, task_submit, task_unshare
from ..storage import engine
from .accounts import error_response
from .datasets import DatasetOutputSerializer
from .discovery import parameters_table
from .rows_query import RowsPageSerializer, RowsQuerySerializer, rows_page


class ProgressOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "TaskProgress"

    current = serializers.IntegerField(source="progress_current")
    total = serializers.IntegerField(source="progress_total")
    percent = serializers.SerializerMethodField()
    stage = serializers.CharField(help_text="queued, starting, the job's own stages (reading, computing, ...), "
                                            "done, failed, cancelled, requeued, 'waiting for your other jobs' "
                                            "(queued behind the owner's running jobs while other users' jobs run)")

    eta_seconds = serializers.SerializerMethodField(help_text=(
        "While the job runs and has reported progress: the seconds it should still take at its pace so far; "
        "null otherwise."))

    def get_percent(self, task) -> float:
        return task_percent(task)

    def get_eta_seconds(self, task) -> float | None:
        return task_eta_seconds(task)


class ResultOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "TaskResult"

    data = serializers.ListField(child=serializers.DictField(), help_text="The first n rows (query parameter n).")
    file_link = serializers.URLField(help_text="The download; it names its format when that is not CSV.")
    formats = serializers.ListField(child=serializers.CharField(), help_text="The formats the download offers "
                                    "(?format=): csv, json, parquet for rows, png for a picture.")
    row_count = serializers.IntegerField(allow_null=True)
    columns = serializers.ListField(child=serializers.CharField())
    value = serializers.JSONField(allow_null=True, help_text="What the operation says besides rows (a summary, "
                                                             "a matrix, a chart's points).")


class WebhookDeliveryOutputSerializer(serializers.Serializer):
    attempt = serializers.IntegerField()
    at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()


class WebhookOutputSerializer(serializers.Serializer):
    url = serializers.URLField()
    status = serializers.CharField(help_text="pending, delivered, failed (after about a day of attempts)")
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    deliveries = WebhookDeliveryOutputSerializer(many=True)


class TaskOutputSerializer(serializers.Serializer):
    """A task as the API shows it; context: request, and n (how many result rows to include)."""

    class Meta:
        ref_name = "Task"

    task_id = serializers.UUIDField(source="id")
    revision = serializers.SerializerMethodField(help_text=(
        "Changes whenever status, attempt, progress or stage change: pass it as `since` with `wait` to be answered "
        "at the next change."))
    operation = serializers.CharField()
    file_id = serializers.UUIDField(source="dataset_id")
    source_task_id = serializers.UUIDField(allow_null=True)
    owner = serializers.CharField(source="owner.username")
    parameters = serializers.JSONField()
    status = serializers.ChoiceField(choices=Task.Status.values)
    progress = ProgressOutputSerializer(source="*")
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField(format=None)
    started_at = serializers.DateTimeField(format=None, allow_null=True)
    finished_at = serializers.DateTimeField(format=None, allow_null=True)
    result = serializers.SerializerMethodField(help_text="On SUCCESS only.")
    error = serializers.CharField(required=False, help_text="On FAILURE only: why, in a sentence.")
    timings = serializers.JSONField(help_text=(
        "Where the last attempt's time went, in seconds, once it ended: queued_s (submit to claim), claim_s, "
        "compute_s (the job itself), store_s (its files put in place and the result recorded)."))
    webhook = serializers.SerializerMethodField(help_text="When the task has a callback_url: where its completion "
                                                          "is POSTed, how that stands, and every attempt.")

    def get_revision(self, task) -> str:
        return task_revision(task)

    @swagger_serializer_method(serializer_or_field=WebhookOutputSerializer)
    def get_webhook(self, task):
        if not task.callback_url:
            return None
        return {"url": task.callback_url, "status": task.webhook_status or "waiting for the task to end",
                "next_attempt_at": task.webhook_next_at if task.webhook_status == "pending" else None,
                "deliveries": [{"attempt": d.attempt, "at": d.at, "status_code": d.status_code, "error": d.error}
                               for d in task.webhook_deliveries.all()]}

    @swagger_serializer_method(serializer_or_field=ResultOutputSerializer)
    def get_result(self, task):
        n = self.context.get("n", 100)
        result = task_result(task, fetch=n > 0)  # on an object store, only rows asked for bring the files here
        if result is None:
            return None
        columns = [c["name"] for c in result.columns or []]
        table = result.table()
        data = []
        if table is not None and n > 0 and table.exists():
            with engine() as con:
                data = head(con, table, n, columns)
        link = self.context["request"].build_absolute_uri(reverse("task-download", args=[task.id]))
        if result.link_format:
            link += f"?format={result.link_format}"
        return {"data": data, "file_link": link, "formats": result.formats, "row_count": result.row_count,
                "columns": columns, "value": result.value}

    def to_representation(self, task):
        body = super().to_representation(task)
        if task.status != Task.Status.SUCCESS:
            body.pop("result")
        if task.status != Task.Status.FAILURE:
            body.pop("error")
        if body.get("webhook") is None:
            body.pop("webhook")
        return body


def task_body(request, task: Task, n: int = 100) -> dict:
    return TaskOutputSerializer(task, context={"request": request, "n": n}).data


def webhook_body(task: Task) -> dict:
    """What a completion webhook POSTs: the task's body, its links on the host it was submitted to."""
    origin = urlsplit(task.callback_origin or "http://localhost")
    request = RequestFactory().get("/", HTTP_HOST=origin.netloc, secure=origin.scheme == "https")
    return {"event": "task.finished", "task": task_body(request, task, n=0)}


class StatusQuerySerializer(serializers.Serializer):
    n = serializers.IntegerField(required=False, default=100, min_value=0, max_value=1000)
    wait = serializers.FloatField(required=False, default=0, min_value=0, max_value=settings.TASK_WAIT_MAX_SECONDS,
                                  help_text=(
        "Long poll: answer as soon as the task changes (status, progress or stage), or after this many seconds "
        "with the task as it is. A finished task is answered at once. When the server already has "
        "TASK_WAIT_MAX_CLIENTS requests waiting in this process, it answers at once with the header "
        "Retry-After: 1 (ask again after a second)."))
    since = serializers.CharField(required=False, default="", allow_blank=True, max_length=64, help_text=(
        "With wait: the `revision` you last saw; a task that changed since is answered at once (without it, "
        "changes are counted from when the request arrives)."))
    until = Choice(choices=["change", "end"], required=False, default="change", help_text=(
        "With wait: `change` (the default) answers at the task's next change; `end` only when it has ended "
        "(SUCCESS, FAILURE or REVOKED), or at the end of the wait: one request for a script that wants the result, "
        "not the progress on the way."))


def task_status_response(request, task_id, query) -> Response:
    """The status body, after the long poll the query asks for (re-read as the caller may see it). A wait the
    server had no room for is answered at once with `Retry-After: 1`."""
    task = task_get_for_user(request.user, task_id)
    v = query.validated_data
    outcome = task_wait(task, v["wait"], v["since"], until_end=v["until"] == "end") if v["wait"] > 0 else UNCHANGED
    if outcome == CHANGED:
        task = task_get_for_user(request.user, task_id)
    return Response(task_body(request, task, v["n"]), headers={"Retry-After": "1"} if outcome == BUSY else None)


@dataclass
class OperationRequest:
    """What a submit (or a schedule) asks for: its input, the operation, the operation's parameters, and the
    request's own fields (`head`)."""
    dataset: Any
    source_task: Task | None
    operation: str
    params: dict
    head: dict


def read_operation_request(request, head_serializer) -> OperationRequest:
    """The body of an operation request: `file_id` or `task_id`, `operation`, the fields `head_serializer` knows,
    and beside them the operation's parameters. 400/404 in the envelope otherwise."""
    if not isinstance(request.data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return operation_request(request.user, request.data, head_serializer)


def operation_request(user, data: dict, head_serializer=None) -> OperationRequest:
    """`data` read as an operation request of `user` (the API's body, the web app's form)."""
    head_serializer = head_serializer or OperationRequestHead
    checked = head_serializer(data=data)
    checked.is_valid(raise_exception=True)
    given = checked.validated_data
    operation = given["operation"]
    if operation not in all_operations():
        raise ApiError(400, f"Unknown operation '{operation}'. Use one of: {', '.join(all_operations())}.",
                       {"operation": [f"unknown operation '{operation}'"]})
    source_task = None
    if "task_id" in given:
        source_task = task_get_for_user(user, given["task_id"])
        dataset = source_task.dataset
    else:
        dataset = dataset_get_for_user(user, given["file_id"])
    params = {k: v for k, v in data.items() if k not in head_serializer().fields}
    return OperationRequest(dataset, source_task, operation, params, given)


class OperationRequestHead(serializers.Serializer):
    class Meta:
        ref_name = "OperationRequestHead"

    file_id = serializers.UUIDField(required=False, help_text="The dataset to read.")
    task_id = serializers.UUIDField(required=False, help_text="Or: a finished task whose table result to read.")
    operation = serializers.CharField(max_length=32)

    def validate(self, attrs):
        if "file_id" in attrs and "task_id" in attrs:
            raise serializers.ValidationError({"file_id": ["Give file_id (a dataset) or task_id (a task's result), not both."]})
        if "file_id" not in attrs and "task_id" not in attrs:
            raise serializers.ValidationError({"file_id": ["Neither file_id nor task_id was given: give file_id (the dataset to read) or task_id (a finished task whose result to read)."]})
        return attrs


class OperationSubmitApi(APIView):
    class InputSerializer(OperationRequestHead):
        class Meta:
            ref_name = "OperationSubmitInput"

        fresh = serializers.BooleanField(required=False, default=False,
                                         help_text="Compute again even when an identical request already succeeded.")
        callback_url = serializers.CharField(required=False, max_length=2000, help_text=(
            "POST the task's body here when it ends, signed with your webhook secret (X-Ravid-Signature). "
            "https only, public addresses only."))

    @swagger_auto_schema(
        operation_summary="Start an operation on a dataset",
        operation_description="Give `file_id` (a dataset) or `task_id` (a task's table result), the `operation`, "
        "and beside them its parameters; a parameter the operation does not take is a 400 naming it. Each "
        "operation's parameters are the model named after it below, and JSON Schema at GET /api/operations/.\n\n"
        + parameters_table(),
        request_body=openapi.Schema(type=openapi.TYPE_OBJECT, required=["operation"], properties={
            "operation": openapi.Schema(type=openapi.TYPE_STRING, enum=list(all_operations())),
        }, additional_properties=True),
        responses={
            202: openapi.Response("Queued", openapi.Schema(type=openapi.TYPE_OBJECT, properties={
                "message": openapi.Schema(type=openapi.TYPE_STRING),
                "task_id": openapi.Schema(type=openapi.TYPE_STRING, format="uuid"),
                "status_url": openapi.Schema(type=openapi.TYPE_STRING),
                "reused": openapi.Schema(type=openapi.TYPE_BOOLEAN, description=(
                    "true: an identical task you may see is queued, running or already succeeded on the same "
                    "input; this is it (its result at once when it succeeded). Send \"fresh\": true to compute "
                    "again."))})),
            400: error_response("Unknown operation or bad parameters"),
            404: error_response("Unknown dataset"),
            409: error_response("Dataset not ready"),
            503: error_response("Queue unavailable"),
        },
        tags=["tasks"],
    )
    def post(self, request):
        req = read_operation_request(request, self.InputSerializer)
        task, reused = task_submit(user=request.user, dataset=req.dataset, operation=req.operation, params=req.params,
                                   source_task=req.source_task, fresh=req.head["fresh"],
                                   callback_url=req.head.get("callback_url", ""),
                                   callback_origin=request.build_absolute_uri("/").rstrip("/"))
        return Response(
            {"message": "Operation started" if not reused or not task.is_finished else "Result reused",
             "task_id": str(task.id), "status_url": reverse("task-detail", args=[task.id]), "reused": reused},
            status=status.HTTP_202_ACCEPTED,
        )


class TaskStatusApi(APIView):
    class QuerySerializer(StatusQuerySerializer):
        class Meta:
            ref_name = "TaskStatusQuery"

        task_id = serializers.UUIDField()

    @swagger_auto_schema(operation_summary="A task's status, progress and result", query_serializer=QuerySerializer,
                         responses={200: TaskOutputSerializer, 404: error_response("Not found")}, tags=["tasks"])
    def get(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return task_status_response(request, query.validated_data["task_id"], query)


class TaskDetailApi(APIView):
    @swagger_auto_schema(operation_summary="A task's status, progress and result", query_serializer=StatusQuerySerializer,
                         responses={200: TaskOutputSerializer, 404: error_response("Not found")}, tags=["tasks"])
    def get(self, request, task_id):
        query = StatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return task_status_response(request, task_id, query)

    @swagger_auto_schema(operation_summary="Delete a task and its result files", responses={204: "Deleted"}, tags=["tasks"])
    def delete(self, request, task_id):
        task_delete(owned_task(request, task_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskListApi(APIView):
    class FilterSerializer(PageQuery):
        class Meta:
            ref_name = "TaskListFilter"

        status = Choice(choices=Task.Status.values, required=False)
        operation = serializers.CharField(required=False, max_length=32)
        file_id = serializers.UUIDField(required=False)
        mine = serializers.BooleanField(required=False, help_text="true: only your own tasks, not those shared "
                                                                  "with you.")

    def get_queryset(self):
        query = self.FilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        v = query.validated_data
        tasks = tasks_of_user(self.request.user) if v.get("mine") else tasks_visible_to(self.request.user)
        if "status" in v:
            tasks = tasks.filter(status=v["status"])
        if "operation" in v:
            tasks = tasks.filter(operation=v["operation"])
        if "file_id" in v:
            tasks = tasks.filter(dataset_id=v["file_id"])
        return tasks

    @swagger_auto_schema(operation_summary="Your tasks and those shared with you (paginated; page, page_size)", manual_parameters=[
        openapi.Parameter("status", openapi.IN_QUERY, type=openapi.TYPE_STRING, enum=Task.Status.values),
        openapi.Parameter("operation", openapi.IN_QUERY, type=openapi.TYPE_STRING),
        openapi.Parameter("file_id", openapi.IN_QUERY, type=openapi.TYPE_STRING, format="uuid"),
        openapi.Parameter("mine", openapi.IN_QUERY, type=openapi.TYPE_BOOLEAN,
                          description="true: only your own tasks, not those shared with you"),
        *PAGE_PARAMETERS,
    ], tags=["tasks"])
    def get(self, request):
        paginator = PagePagination()
        page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
        return paginator.get_paginated_response(
            TaskOutputSerializer(page, many=True, context={"request": request, "n": 0}).data)


def owned_task(request, task_id) -> Task:
    task = task_get_for_user(request.user, task_id)
    if task.owner_id != request.user.id:
        raise ApiError(403, "Only the owner of a task can do this.")
    return task


def _require_success(task: Task) -> None:
    if task.status in (Task.Status.PENDING, Task.Status.STARTED):
        raise ApiError(409, f"The task is {task.status}; its result is available once it succeeds.")
    if task.status != Task.Status.SUCCESS:  # it ended without one
        ended = "was cancelled" if task.status == Task.Status.REVOKED else "failed"
        raise ApiError(409, f"The task {ended} ({task.status}), so it has no result; submit the operation again "
                            "for one.")


def _finished_table(request, task_id) -> tuple[Task, Table]:
    task = task_get_for_user(request.user, task_id)
    return task, _result_table(task)


def _result_table(task: Task) -> Table:
    _require_success(task)
    table = task_result_table(task)
    if table is None or not table.exists():
        raise ApiError(409, "This task's result is not a table.")
    return table


class TaskRowsApi(APIView):
    @swagger_auto_schema(operation_summary="Query a result's rows", query_serializer=RowsQuerySerializer,
                         responses={200: RowsPageSerializer}, tags=["tasks"])
    def get(self, request, task_id):
        task, table = _finished_table(request, task_id)
        return Response(rows_page(request, table, task.result_columns, task.result_row_count))


class TaskDownloadApi(APIView):
    class QuerySerializer(serializers.Serializer):
        class Meta:
            ref_name = "TaskDownloadQuery"

        format = Choice(choices=list(CONTENT_TYPES), required=False)

    @swagger_auto_schema(operation_summary="Download a result (csv, json, parquet; png for charts)",
                         query_serializer=QuerySerializer, responses={200: "The file"}, tags=["tasks"])
    def get(self, request, task_id):
        task = task_get_for_user(request.user, task_id)
        # Checked against this result's own formats (a table's are not a chart's), not the list of every format.
        return result_file(task, request.query_params.get("format") or None)


def result_file(task: Task, fmt: str | None) -> FileResponse:
    """A successful task's result as a download in `fmt` (its default format when None); ApiError otherwise."""
    _require_success(task)
    result = task_result(task)
    if result is None or not result.exists():
        raise ApiError(409, "This task's result files are no longer available.")
    fmt = fmt or result.default_format
    if fmt not in result.formats:
        allowed = ", ".join(result.formats)
        raise ApiError(400, f"This result downloads as {allowed}; not as {fmt}.", {"format": [f"use {allowed}"]})
    path, content_type, kept = task_download(task, result, fmt)
    handle = open(path, "rb")
    if not kept:  # no room in the owner's quota for an export copy: sent once, then gone
        path.unlink()
    return FileResponse(handle, content_type=content_type, as_attachment=True,
                        filename=f"{task.operation}-{str(task.id)[:8]}.{fmt}")


class TaskCancelApi(APIView):
    @swagger_auto_schema(operation_summary="Cancel a queued or running task", responses={202: TaskOutputSerializer, 409: error_response("Already finished")}, tags=["tasks"])
    def post(self, request, task_id):
        task = task_cancel(owned_task(request, task_id))
        return Response(task_body(request, task, n=0), status=status.HTTP_202_ACCEPTED)



class UserInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "ShareUserInput"

    user = serializers.CharField(max_length=254, help_text="Email or username of the user to share with.")


class TaskShareApi(APIView):
    @swagger_auto_schema(operation_summary="Share a task's result with another user", request_body=UserInputSerializer,
                         responses={201: "Shared", 404: error_response("No such task or user")}, tags=["tasks"])
    def post(self, request, task_id):
        data = UserInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = owned_task(request, task_id)
        share = task_share(task=task, user_identifier=data.validated_data["user"])
        return Response({"message": "Task shared", "task_id": str(task.id), "user_id": share.user_id,
                         "username": share.user.username}, status=status.HTTP_201_CREATED)


class TaskUnshareApi(APIView):
    @swagger_auto_schema(operation_summary="Stop sharing a task's result with a user", responses={204: "Unshared"}, tags=["tasks"])
    def delete(self, request, task_id, user_id):
        task_unshare(task=owned_task(request, task_id), user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskSaveAsDatasetApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SaveAsDatasetInput"

        name = serializers.CharField(required=False, allow_blank=True, max_length=255)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SaveAsDatasetOutput"

        message = serializers.CharField()
        file_id = serializers.UUIDField()
        task_id = serializers.UUIDField(help_text="The job that writes the table; the dataset is READY when it "
                                                  "succeeds (FAILED with its reason otherwise).")
        dataset = DatasetOutputSerializer()

    @swagger_auto_schema(operation_summary="Save a table result as a new dataset (PENDING; a job writes it)",
                         request_body=InputSerializer,
                         responses={201: OutputSerializer, 409: error_response("Not a table result"),
                                    413: error_response("Past the storage quota")},
                         tags=["tasks"])
    def post(self, request, task_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = task_get_for_user(request.user, task_id)
        dataset, job = dataset_from_task(task=task, owner=request.user, name=data.validated_data.get("name"))
        return Response({"message": "Dataset created; its table is being written", "file_id": str(dataset.id),
                         "task_id": str(job.id), "dataset": DatasetOutputSerializer(dataset).data},
                        status=status.HTTP_201_CREATED)
