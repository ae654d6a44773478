"""Receiving an upload without holding it in memory or reading past the size limit."""
from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework.parsers import BaseParser, DataAndFiles

from .errors import ApiError

CHUNK = 1024 * 1024


def too_large() -> ApiError:
    limit = settings.MAX_UPLOAD_BYTES
    return ApiError(413, f"The upload is larger than the limit of {limit} bytes.", {"file": [f"at most {limit} bytes"]})


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops a multipart upload as soon as it passes MAX_UPLOAD_BYTES."""

    def new_file(self, *args, **kwargs):
        self.received = 0
        return super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received = start + len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            raise too_large()
        return raw_data

    def file_complete(self, file_size):
        return None


class CsvBodyParser(BaseParser):
    """A raw `text/csv` request body, spooled to a temporary file beside the uploads."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        name = request.query_params.get("name") or "upload.csv"
        upload = TemporaryUploadedFile(name, "text/csv", 0, None)
        size = 0
        if stream is not None:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > settings.MAX_UPLOAD_BYTES:
                    upload.close()
                    raise too_large()
                upload.write(chunk)
        upload.flush()
        upload.size = size
        upload.seek(0)
        return DataAndFiles({"name": request.query_params.get("name", "")}, {"file": upload})
