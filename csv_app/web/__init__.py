"""The web app for analysts, at /app/: Django templates with htmx, session login, the API's services and rules."""
