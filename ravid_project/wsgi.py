"""WSGI entry point (gunicorn ravid_project.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ravid_project.settings")
application = get_wsgi_application()
