"""The engine's exceptions: a user-facing failure, and a cancellation."""


class EngineError(Exception):
    """A failure whose message is a sentence safe to show the user (no paths, no SQL)."""

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class Cancelled(Exception):
    """The caller asked the running computation to stop."""
