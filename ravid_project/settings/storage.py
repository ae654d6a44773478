"""Where uploads and results live, and the limits on what may be stored."""
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .environment import MEDIA_ROOT, env

MEDIA_URL = "/_media/"  # never routed: files are served only through authenticated endpoints

# STORAGE_URL: where every kept file lives. Unset: under MEDIA_ROOT. A folder (or file:///folder): there.
# s3://bucket/prefix: an S3-compatible object store (S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_REGION); each host then keeps a read-through cache of the files it reads in MEDIA_ROOT, at most
# WORKER_CACHE_BYTES (files in use by a job or touched in the last minute are never evicted).
STORAGE_URL = env.str("STORAGE_URL", default="")
_storage = urlsplit(STORAGE_URL)
S3_BUCKET = S3_PREFIX = ""
if _storage.scheme == "s3":
    S3_BUCKET, S3_PREFIX = _storage.netloc, _storage.path.strip("/")
    if not S3_BUCKET:
        raise ImproperlyConfigured(f"STORAGE_URL={STORAGE_URL!r} names no bucket: use s3://bucket/prefix.")
    STORAGE_ROOT = MEDIA_ROOT
elif _storage.scheme in ("", "file"):
    STORAGE_ROOT = Path(_storage.path if _storage.scheme else STORAGE_URL).resolve() if STORAGE_URL else MEDIA_ROOT
else:
    raise ImproperlyConfigured(
        f"STORAGE_URL={STORAGE_URL!r} is neither a local folder nor s3://bucket/prefix.")
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="") or None
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_REGION = env.str("AWS_REGION", default="") or None
WORKER_CACHE_BYTES = env.int("WORKER_CACHE_BYTES", default=10 * 1024**3)
# A cached file read this recently is never evicted (a request may be about to open it).
STORAGE_CACHE_GRACE_SECONDS = env.float("STORAGE_CACHE_GRACE_SECONDS", default=60.0)

UPLOADS_DIR = STORAGE_ROOT / "uploads"
RESULTS_DIR = STORAGE_ROOT / "results"
WORK_TMP_DIR = MEDIA_ROOT / "tmp"
for _folder in (UPLOADS_DIR, RESULTS_DIR, WORK_TMP_DIR):
    _folder.mkdir(parents=True, exist_ok=True)

# Uploads are spooled to disk beside their final place so they can be renamed, never copied.
FILE_UPLOAD_TEMP_DIR = str(WORK_TMP_DIR)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640
# A JSON request body (an upload's file is not one: it streams to disk)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_JSON_BODY_BYTES", default=1024 * 1024)

MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=1024**3)
MAX_COLUMNS = env.int("MAX_COLUMNS", default=2000)
MAX_COLUMN_NAME_CHARS = env.int("MAX_COLUMN_NAME_CHARS", default=256)

# Per-user storage (the sum of a user's uploads); 0 means no quota.
USER_QUOTA_BYTES = env.int("USER_QUOTA_BYTES", default=0)
# Datasets and task results older than this many days are removed by a periodic job; 0 keeps them.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=0)
