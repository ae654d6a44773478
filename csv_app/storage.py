"""Where a dataset's and a task's files live, and removing them."""
import shutil
import uuid
from pathlib import Path

from django.conf import settings

from analytics_app.engine.sql import Limits, session


def dataset_dir(dataset_id: uuid.UUID) -> Path:
    return Path(settings.UPLOADS_DIR) / str(dataset_id)


def result_dir(task_id: uuid.UUID) -> Path:
    return Path(settings.RESULTS_DIR) / str(task_id)


def media_path(relative: str) -> Path:
    """An absolute path for a path stored relative to MEDIA_ROOT, refusing anything outside it."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError("path outside media root")
    return path


def relative(path: Path) -> str:
    return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def engine_limits() -> Limits:
    spill = Path(settings.WORK_TMP_DIR) / "duckdb"
    spill.mkdir(parents=True, exist_ok=True)
    return Limits(memory_limit=settings.DUCKDB_MEMORY_LIMIT, threads=settings.DUCKDB_THREADS, temp_dir=str(spill))


def engine():
    """A DuckDB connection for a read outside a job (a preview, a rows page, an export): `with engine() as con:`."""
    return session(engine_limits())


def warm_engine() -> None:
    """Make this process's DuckDB now (about 25 ms), so the first rows request or task does not pay for it."""
    with engine():
        pass
