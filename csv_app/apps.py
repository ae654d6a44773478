"""App configuration for csv_app."""
from django.apps import AppConfig


class CsvAppConfig(AppConfig):
    name = "csv_app"
    verbose_name = "Datasets and tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from celery.signals import task_postrun, task_prerun

        from .logging_context import bind_celery_task

        task_prerun.connect(lambda task_id=None, task=None, **kw: bind_celery_task(task_id, getattr(task, "name", None)),
                            weak=False)
        task_postrun.connect(lambda **kw: bind_celery_task(None, None), weak=False)
