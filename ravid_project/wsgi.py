"""WSGI entry point (gunicorn ravid_project.wsgi); each web process makes its DuckDB as it starts."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ravid_project.settings")
application = get_wsgi_application()

from csv_app.storage import warm_engine  # noqa: E402  (needs the settings loaded above)

warm_engine()
