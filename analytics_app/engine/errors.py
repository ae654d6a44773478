"""The engine's exceptions: a user-facing failure, and a cancellation."""


class EngineError(Exception):
    """A failure whose message is a sentence safe to show the user (no paths, no SQL)."""

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


SHOWN_COLUMNS = 50


def unknown_column(name: str, columns, what: str = "column") -> str:
    """A sentence for a column name that is not there, naming the ones that are (the first SHOWN_COLUMNS)."""
    columns = list(columns)
    more = len(columns) - SHOWN_COLUMNS
    listed = ", ".join(columns[:SHOWN_COLUMNS]) + (f" (and {more} more)" if more > 0 else "")
    return f"Unknown {what} '{name}'. Columns are: {listed}."


class Cancelled(Exception):
    """The caller asked the running computation to stop."""


class OutOfMemory(EngineError):
    """The work needed more memory than its DuckDB connection may use."""

    def __init__(self, limit: str):
        super().__init__(
            f"The job needed more memory than one job may use ({limit}, the setting DUCKDB_MEMORY_LIMIT). "
            "Ask for fewer groups, distinct values or columns (a filter first), or ask the operator to raise the bound."
        )
