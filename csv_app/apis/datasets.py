"""Upload, list, read, delete, preview, query and share datasets."""
from django.conf import settings
from drf_yasg import openapi
from drf_yasg.utils import swagger_auto_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_app.engine.rows import head

from ..errors import ApiError
from ..models import Dataset
from ..selectors import dataset_get_for_user, dataset_table, datasets_visible_to
from ..services.datasets import dataset_create, dataset_delete, dataset_share, dataset_unshare
from ..storage import engine
from ..uploads import CsvBodyParser, SizeLimitUploadHandler, too_large
from .accounts import error_response
from .rows_query import RowsPageSerializer, RowsQuerySerializer, rows_page


class DatasetOutputSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    columns = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "name", "status", "error", "size_bytes", "row_count", "columns", "profiled", "owner", "created_at"]

    def get_columns(self, obj) -> list[dict]:
        return obj.columns if obj.status == Dataset.Status.READY else []


def ready_table(dataset: Dataset):
    if dataset.status != Dataset.Status.READY:
        raise ApiError(409, f"{dataset.state_sentence()}; its rows are not available.")
    return dataset_table(dataset)


def require_owner(request, dataset: Dataset) -> None:
    if dataset.owner_id != request.user.id:
        raise ApiError(403, "Only the owner of a dataset can do this.")


class DatasetUploadApi(APIView):
    parser_classes = [MultiPartParser, FormParser, CsvBodyParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "DatasetUploadInput"

        file = serializers.FileField(help_text="The CSV file.", allow_empty_file=True)
        name = serializers.CharField(required=False, allow_blank=True, max_length=255)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        length = request.META.get("CONTENT_LENGTH")
        if length and length.isdigit() and int(length) > settings.MAX_UPLOAD_BYTES + 64 * 1024:
            raise too_large()
        request._request.upload_handlers.insert(0, SizeLimitUploadHandler(request._request))

    @swagger_auto_schema(
        operation_summary="Upload a CSV (multipart field `file`, or a raw text/csv body)",
        manual_parameters=[
            openapi.Parameter("file", openapi.IN_FORM, type=openapi.TYPE_FILE, required=True),
            openapi.Parameter("name", openapi.IN_FORM, type=openapi.TYPE_STRING, required=False),
        ],
        consumes=["multipart/form-data", "text/csv"],
        responses={
            201: openapi.Response("Uploaded; ingest queued", openapi.Schema(type=openapi.TYPE_OBJECT, properties={
                "message": openapi.Schema(type=openapi.TYPE_STRING),
                "file_id": openapi.Schema(type=openapi.TYPE_STRING, format="uuid"),
                "task_id": openapi.Schema(type=openapi.TYPE_STRING, format="uuid"),
                "dataset": openapi.Schema(type=openapi.TYPE_OBJECT)})),
            400: error_response("Not a usable CSV"),
            413: error_response("Over MAX_UPLOAD_BYTES"),
            503: error_response("The job queue is unavailable"),
        },
        tags=["datasets"],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        if not data.is_valid():
            raw = not request.content_type.startswith("multipart/")
            if "file" in data.errors and raw and request.META.get("CONTENT_LENGTH", "0") in ("", "0"):
                raise ApiError(400, "The request body is empty: the file has no bytes to upload.",
                               {"file": ["The file is empty."]})
            if "file" in data.errors:
                raise ApiError(400, "No file was uploaded: send multipart field 'file' or a text/csv body.",
                               {"file": [str(e) for e in data.errors["file"]]})
            data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        dataset, task = dataset_create(owner=request.user, upload=upload, name=data.validated_data.get("name"))
        return Response(
            {
                "message": "File uploaded successfully",
                "file_id": str(dataset.id),
                "task_id": str(task.id),
                "dataset": DatasetOutputSerializer(dataset).data,
            },
            status=status.HTTP_201_CREATED,
        )


class DatasetListApi(ListAPIView):
    serializer_class = DatasetOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Dataset.objects.none()
        return datasets_visible_to(self.request.user)

    @swagger_auto_schema(operation_summary="Your datasets and those shared with you", tags=["datasets"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DatasetDetailApi(APIView):
    @swagger_auto_schema(operation_summary="A dataset", responses={200: DatasetOutputSerializer, 404: error_response("Not found")}, tags=["datasets"])
    def get(self, request, dataset_id):
        return Response(DatasetOutputSerializer(dataset_get_for_user(request.user, dataset_id)).data)

    @swagger_auto_schema(operation_summary="Delete a dataset and its files", responses={204: "Deleted", 404: error_response("Not found")}, tags=["datasets"])
    def delete(self, request, dataset_id):
        dataset = dataset_get_for_user(request.user, dataset_id)
        require_owner(request, dataset)
        dataset_delete(dataset)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetPreviewApi(APIView):
    class QuerySerializer(serializers.Serializer):
        class Meta:
            ref_name = "DatasetPreviewQuery"

        n = serializers.IntegerField(required=False, default=5, min_value=1, max_value=1000)

    @swagger_auto_schema(operation_summary="The first n rows", query_serializer=QuerySerializer, tags=["datasets"])
    def get(self, request, dataset_id):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        dataset = dataset_get_for_user(request.user, dataset_id)
        table = ready_table(dataset)
        names = [c["name"] for c in dataset.columns]
        with engine() as con:
            rows = head(con, table, query.validated_data["n"], names)
        return Response({"id": str(dataset.id), "columns": names, "rows": rows})


ROWS_PARAMETERS = [
    openapi.Parameter("f", openapi.IN_QUERY, type=openapi.TYPE_ARRAY, items=openapi.Items(type=openapi.TYPE_STRING),
                      collection_format="multi", description="column,op,value; ops eq ne gt gte lt lte contains in (| separates)"),
]


class DatasetRowsApi(APIView):
    @swagger_auto_schema(operation_summary="Query a dataset's rows", query_serializer=RowsQuerySerializer,
                         manual_parameters=ROWS_PARAMETERS, responses={200: RowsPageSerializer}, tags=["datasets"])
    def get(self, request, dataset_id):
        dataset = dataset_get_for_user(request.user, dataset_id)
        return Response(rows_page(request, ready_table(dataset), dataset.columns, dataset.row_count))


class DatasetShareApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "DatasetShareInput"

        user = serializers.CharField(max_length=254, help_text="Email or username of the user to share with.")

    @swagger_auto_schema(operation_summary="Share a dataset with another user", request_body=InputSerializer,
                         responses={201: "Shared", 404: error_response("No such dataset or user")}, tags=["datasets"])
    def post(self, request, dataset_id):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = dataset_get_for_user(request.user, dataset_id)
        require_owner(request, dataset)
        share = dataset_share(dataset=dataset, user_identifier=data.validated_data["user"])
        return Response(
            {"message": "Dataset shared", "dataset_id": str(dataset.id), "user_id": share.user_id,
             "username": share.user.username},
            status=status.HTTP_201_CREATED,
        )


class DatasetUnshareApi(APIView):
    @swagger_auto_schema(operation_summary="Stop sharing a dataset with a user", responses={204: "Unshared"}, tags=["datasets"])
    def delete(self, request, dataset_id, user_id):
        dataset = dataset_get_for_user(request.user, dataset_id)
        require_owner(request, dataset)
        dataset_unshare(dataset=dataset, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


