"""App configuration for analytics_app."""
from django.apps import AppConfig


class AnalyticsAppConfig(AppConfig):
    name = "analytics_app"
    verbose_name = "Analytics operations"
