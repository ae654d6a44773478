"""The request id, user id and task id carried into every log line of the current thread."""
import contextvars
import logging

request_id = contextvars.ContextVar("request_id", default=None)
user_id = contextvars.ContextVar("user_id", default=None)
task_id = contextvars.ContextVar("ravid_task_id", default=None)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id), ("user_id", user_id), ("ravid_task_id", task_id)):
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True
