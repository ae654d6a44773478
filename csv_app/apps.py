"""App configuration for csv_app."""
from django.apps import AppConfig


class CsvAppConfig(AppConfig):
    name = "csv_app"
    verbose_name = "Datasets and tasks"
    default_auto_field = "django.db.models.BigAutoField"
