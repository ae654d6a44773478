"""WSGI entry point (gunicorn ravid_project.wsgi); each web process makes its DuckDB, imports its views and loads
its token backend as it starts, so that no user's first request to a process pays for them."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ravid_project.settings")
application = get_wsgi_application()

from csv_app.warmup import warm_engine, warm_web  # noqa: E402  (needs the settings loaded above)

warm_engine()
warm_web()
