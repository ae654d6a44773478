"""What the services say went wrong, in the platform's words; csv_app.errors maps each to its HTTP status."""


class DomainError(Exception):
    default = "The request cannot be done."

    def __init__(self, message: str | None = None, details: dict | None = None):
        self.message = message or self.default
        self.details = details
        super().__init__(self.message)


class Invalid(DomainError):
    """Something the caller sent cannot be used (a file that is not a CSV, an unknown user)."""

    default = "The request is not valid."


class NotFound(DomainError):
    """No such object, or not one this user may see."""

    default = "Not found."


class Forbidden(DomainError):
    default = "You do not have permission to perform this action."


class Conflict(DomainError):
    """The object is not in a state that allows this (a dataset still ingesting, a task already finished)."""

    default = "The request conflicts with the current state."


class TooLarge(DomainError):
    default = "The upload is too large."


class TooMany(DomainError):
    """A per-user bound was reached (jobs waiting, say)."""

    default = "Too many requests; try again later."


class Unavailable(DomainError):
    """A service the platform needs (the job queue) cannot be reached."""

    default = "The service is temporarily unavailable; try again shortly."
