"""The one registry of operations that the submit endpoint, the task runner and the docs all read."""
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_framework import serializers

from .engine.execution import ProgressFn, no_progress, run_with_progress
from .engine.sql import Limits, connect
from .engine.tables import Table, TableResult


@dataclass
class RunContext:
    """What an operation gets to compute with: its input table and where to put its output."""

    source: Table
    schema: list[dict]
    result_dir: Path
    limits: Limits
    on_progress: ProgressFn = no_progress
    profile_file: Path | None = None  # where the source's column profile was saved, when it has one

    @property
    def types(self) -> dict[str, str]:
        return {c["name"]: c["type"] for c in self.schema}

    @property
    def names(self) -> list[str]:
        return [c["name"] for c in self.schema]

    def table_path(self) -> Path:
        return self.result_dir / "result.parquet"

    def compute(self, work: Callable[[Any], Any], stage: str = "computing") -> Any:
        """Run work(con) on a fresh bounded DuckDB connection, reporting progress."""
        con = connect(self.limits)
        try:
            return run_with_progress(con, work, stage, self.on_progress)
        finally:
            con.close()


@dataclass
class ChartResult:
    path: Path
    value: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    name: str
    summary: str
    params: type[serializers.Serializer]
    run: Callable[[RunContext, dict], TableResult | ChartResult]
    check: Callable[[dict, list[dict]], dict] | None = None


_REGISTRY: dict[str, Operation] = {}


def register(operation: Operation) -> Operation:
    if operation.name in _REGISTRY:
        raise ValueError(f"operation {operation.name} registered twice")
    _REGISTRY[operation.name] = operation
    return operation


def _load() -> None:
    if _REGISTRY:
        return
    from . import operations

    for module in pkgutil.iter_modules(operations.__path__):
        importlib.import_module(f"{operations.__name__}.{module.name}")


def all_operations() -> dict[str, Operation]:
    _load()
    return dict(sorted(_REGISTRY.items()))


def get_operation(name: str) -> Operation | None:
    _load()
    return _REGISTRY.get(name)
