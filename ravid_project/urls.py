"""Top-level routes: the API, health, Swagger/ReDoc, admin; unknown /api/ paths answer in the envelope."""
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_yasg import openapi
from drf_yasg.views import get_schema_view
from rest_framework.permissions import AllowAny

from csv_app.apis.health import HealthApi
from csv_app.errors import not_found_view
from csv_app.schema import ApiSchemaGenerator

api_info = openapi.Info(
    title="ravid API",
    default_version="v1",
    description="Upload CSV files, run analytics on them as background jobs, poll for progress and results. "
    "Authenticate with `Authorization: Bearer <access>` from POST /api/login/.",
)

schema_view = get_schema_view(
    api_info, public=True, permission_classes=[AllowAny], authentication_classes=[], generator_class=ApiSchemaGenerator
)

urlpatterns = [
    path("api/", include("csv_app.urls")),
    re_path(r"^api(?:/.*)?$", not_found_view),
    path("health/", HealthApi.as_view(), name="health"),
    re_path(r"^swagger\.(?P<format>json|yaml)$", schema_view.without_ui(cache_timeout=0), name="schema-json"),
    path("swagger/", schema_view.with_ui("swagger", cache_timeout=0), name="schema-swagger-ui"),
    path("redoc/", schema_view.with_ui("redoc", cache_timeout=0), name="schema-redoc"),
    path("admin/", admin.site.urls),
    path("app/", include("csv_app.web.urls")),
    path("", RedirectView.as_view(pattern_name="app-home", permanent=False), name="root"),
]

handler400 = "csv_app.errors.bad_request_view"
handler403 = "csv_app.errors.permission_denied_view"
handler404 = "csv_app.errors.not_found_view"
handler500 = "csv_app.errors.server_error_view"
