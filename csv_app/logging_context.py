"""The request id, user id and task id carried into every log line of the current thread."""
import contextvars
import logging

request_id = contextvars.ContextVar("request_id", default=None)
user_id = contextvars.ContextVar("user_id", default=None)
task_id = contextvars.ContextVar("ravid_task_id", default=None)
celery_task_id = contextvars.ContextVar("task_id", default=None)
celery_task_name = contextvars.ContextVar("task_name", default=None)
FIELDS = (("request_id", request_id), ("user_id", user_id), ("ravid_task_id", task_id),
          ("task_id", celery_task_id), ("task_name", celery_task_name))


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in FIELDS:
            value = var.get()
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


def bind_celery_task(task_id_value: str | None, name: str | None) -> None:
    celery_task_id.set(task_id_value)
    celery_task_name.set(name)
