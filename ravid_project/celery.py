"""The Celery application; its configuration lives in settings/celery.py."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ravid_project.settings")

app = Celery("ravid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from csv_app.worker_watchdog import JobWatchdog  # noqa: E402  (imports no Django model until the worker starts)

app.steps["consumer"].add(JobWatchdog)
