"""The one registry of jobs — the operations users ask for, and the ingest that makes a dataset of an upload — that
the submit endpoint, the job runner and the docs all read. A job validates its parameters, runs in a RunContext and
returns a Result; how long each of its stages takes, as a share of the whole, is its own business too."""
import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_framework import serializers

from .engine.errors import EngineError
from .engine.execution import ProgressFn, no_progress, run_with_progress
from .engine.results import IMAGE_FILE, TABLE_FILE, Result
from .engine.sql import Limits, session
from .engine.tables import Table
from .engine.types import column_types

# Each stage's share of a job, as (start, end) percent of the whole.
COMPUTING_STAGES = {"computing": (2, 95), "rendering": (2, 95)}


class InvalidParameters(Exception):
    """Parameters that do not fit the job or its input table; `detail` maps each field to its messages."""

    def __init__(self, detail, message: str | None = None):
        self.detail = detail
        self.sentence = message or first_message(detail) or "The parameters are not valid for this dataset."
        super().__init__(self.sentence)


def first_message(detail) -> str | None:
    """The first message of a DRF-style error detail, prefixed with its field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            msg = first_message(value)
            if msg:
                return msg if key in ("non_field_errors", "detail") else f"{key}: {msg}"
    if isinstance(detail, list):
        for item in detail:
            msg = first_message(item)
            if msg:
                return msg
    if isinstance(detail, str):
        return detail
    return None


@dataclass(frozen=True)
class Upload:
    """A new dataset's raw file and how it was sniffed: what an ingest reads."""

    path: Path
    encoding: str
    delimiter: str
    columns: tuple[str, ...]
    format: str = "csv"  # or "parquet"


@dataclass
class RunContext:
    """What a job gets to compute with: its input (a table, or an upload) and the folder to put its output in."""

    source: Table | None
    schema: list[dict]
    result_dir: Path
    limits: Limits
    on_progress: ProgressFn = no_progress
    profile_file: Path | None = None  # where the source's column profile was saved, when it has one
    upload: Upload | None = None

    @property
    def types(self) -> dict[str, str]:
        return column_types(self.schema)

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.schema]

    def table_path(self) -> Path:
        return self.result_dir / TABLE_FILE

    def image_path(self) -> Path:
        return self.result_dir / IMAGE_FILE

    def compute(self, work: Callable[[Any], Any], stage: str = "computing") -> Any:
        """Run work(con) on a fresh bounded DuckDB connection, reporting progress."""
        with session(self.limits) as con:
            return run_with_progress(con, work, stage, self.on_progress)


@dataclass(frozen=True)
class Operation:
    """A kind of job. `reads_upload`: it reads a new dataset's upload. `makes_dataset`: its result is its
    dataset's table (an ingest, a result saved as a dataset). `listed`: users can ask for it (perform-operation,
    the catalogue)."""

    name: str
    summary: str
    params: type[serializers.Serializer]
    run: Callable[[RunContext, dict], Result]
    check: Callable[[dict, list[dict]], dict] | None = None
    stages: dict[str, tuple[int, int]] = field(default_factory=lambda: COMPUTING_STAGES)
    reads_upload: bool = False
    makes_dataset: bool = False
    listed: bool = True
    # A check that needs the input's data (a distinct count, say), run at submit on the input table with its saved
    # column profile when it has one (or None); it must stay cheap. Raises ValidationError, or EngineError naming
    # the field in its details.
    preflight: Callable[[Any, Table, dict, dict | None], None] | None = None
    # Whether a job with these parameters is heavy whatever its input's size (an ingest; Kendall's tau, which is
    # quadratic in memory and time and holds the GIL): it goes to the heavy queue.
    heavy: Callable[[dict], bool] = lambda params: False

    def validate(self, params: dict, schema: list[dict]) -> dict:
        """The parameters, checked against the input's columns and made JSON; InvalidParameters otherwise (an
        unknown parameter, a misspelt one, included)."""
        known = sorted(self.params().fields)
        unknown = [key for key in params if key not in known]
        if unknown:
            takes = f"its parameters are: {', '.join(known)}" if known else "it takes no parameters"
            raise InvalidParameters({unknown[0]: [f"Unknown parameter for {self.name}; {takes}."]},
                                    f"Unknown parameter '{unknown[0]}' for {self.name}; {takes}.")
        try:
            data = self.params(data=params)
            data.is_valid(raise_exception=True)
            clean = dict(data.validated_data)
            if self.check is not None:
                clean = self.check(clean, schema) or clean
        except serializers.ValidationError as exc:
            raise InvalidParameters(exc.detail) from None
        return json.loads(json.dumps(clean, default=str))

    def check_data(self, con, source: Callable[[], Table], params: dict, profile: dict | None = None) -> None:
        """The preflight check of validated parameters against the input table (and its saved column profile, when
        it has one); InvalidParameters otherwise. `source()` gives the table, called only when the check reads it
        (on an object store that fetches it: a check the profile answers fetches nothing)."""
        if self.preflight is None:
            return
        try:
            self.preflight(con, source, params, profile)
        except serializers.ValidationError as exc:
            raise InvalidParameters(exc.detail) from None
        except EngineError as exc:
            raise InvalidParameters(exc.details or exc.message, exc.message) from None

    def execute(self, ctx: RunContext, params: dict) -> Result:
        """Run the job; parameters that turn out not to fit the input are InvalidParameters."""
        try:
            return self.run(ctx, params)
        except serializers.ValidationError as exc:
            raise InvalidParameters(exc.detail) from None

    def overall(self, stage: str, percent: float) -> int:
        """Progress of the whole job, 0-100, when `stage` is `percent` done."""
        lo, hi = self.stages.get(stage, (0, 99))
        return int(lo + (hi - lo) * max(0.0, percent) / 100.0)


_REGISTRY: dict[str, Operation] = {}
_loaded = False


def register(operation: Operation) -> Operation:
    if operation.name in _REGISTRY:
        raise ValueError(f"operation {operation.name} registered twice")
    _REGISTRY[operation.name] = operation
    return operation


def _load() -> None:
    """Import every module of analytics_app.operations once (importing one of them first must not stop it)."""
    global _loaded
    if _loaded:
        return
    from . import operations

    for module in pkgutil.iter_modules(operations.__path__):
        importlib.import_module(f"{operations.__name__}.{module.name}")
    _loaded = True


def all_operations() -> dict[str, Operation]:
    """The operations users can ask for, by name."""
    _load()
    return {name: op for name, op in sorted(_REGISTRY.items()) if op.listed}


def get_operation(name: str) -> Operation | None:
    """An operation users can ask for, or None."""
    return all_operations().get(name)


def get_job(name: str) -> Operation | None:
    """Any registered job, the ingest included: what the runner looks up."""
    _load()
    return _REGISTRY.get(name)


def dataset_jobs() -> list[str]:
    """The jobs whose result is their dataset's table: they belong to their dataset, not to the task list's user."""
    _load()
    return sorted(name for name, op in _REGISTRY.items() if op.makes_dataset)


def save_job() -> Operation:
    """The job that writes a task's table result as a new dataset."""
    _load()
    return next(op for op in _REGISTRY.values() if op.makes_dataset and not op.reads_upload)


def ingest_job() -> Operation:
    """The job that reads a new dataset's upload."""
    _load()
    return next(op for op in _REGISTRY.values() if op.reads_upload)
