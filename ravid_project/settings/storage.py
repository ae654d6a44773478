"""Where uploads and results live, and the limits on what may be stored."""
from .environment import MEDIA_ROOT, env

MEDIA_URL = "/_media/"  # never routed: files are served only through authenticated endpoints
UPLOADS_DIR = MEDIA_ROOT / "uploads"
RESULTS_DIR = MEDIA_ROOT / "results"
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
