"""The engine's exceptions: a user-facing failure, and a cancellation."""


class EngineError(Exception):
    """A failure whose message is a sentence safe to show the user (no paths, no SQL)."""

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class Cancelled(Exception):
    """The caller asked the running computation to stop."""


class OutOfMemory(EngineError):
    """The work needed more memory than its DuckDB connection may use."""

    def __init__(self, limit: str):
        super().__init__(
            f"The job needed more memory than one job may use ({limit}, the setting DUCKDB_MEMORY_LIMIT). "
            "Ask for fewer groups, distinct values or columns (a filter first), or ask the operator to raise the bound."
        )
