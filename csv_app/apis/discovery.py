"""Discovery: GET /api/ (an index of the API) and GET /api/operations/ (the operation catalogue as JSON Schema).

Each operation's parameters are described from the same serializers the server validates with, converted by
drf-yasg (which also puts them into the OpenAPI document: csv_app.schema)."""
import functools
import re

from django.conf import settings
from django.urls import reverse
from drf_yasg import openapi
from drf_yasg.generators import OpenAPISchemaGenerator
from drf_yasg.inspectors import SwaggerAutoSchema
from drf_yasg.utils import swagger_auto_schema
from rest_framework.response import Response

from analytics_app.registry import all_operations

from .accounts import PublicApi

# OpenAPI 2 keys that JSON Schema does not have, or spells another way.
_OPENAPI_ONLY = {"x-nullable", "readOnly", "discriminator", "example", "title"}


@functools.cache
def operation_definitions() -> tuple[dict, dict]:
    """({operation: the name of its parameters' OpenAPI definition}, {definition name: schema})."""
    components = OpenAPISchemaGenerator.reference_resolver_class(openapi.SCHEMA_DEFINITIONS, force_init=True)
    inspector = SwaggerAutoSchema(None, "/api/perform-operation/", "post", components, None, {})
    refs = {name: inspector.serializer_to_schema(op.params()) for name, op in all_operations().items()}
    scoped = components.with_scope(openapi.SCHEMA_DEFINITIONS)
    definitions = {name: scoped[name] for name in scoped.keys()}
    return {name: ref["$ref"].rsplit("/", 1)[1] for name, ref in refs.items()}, definitions


def json_schema(schema, definitions: dict) -> dict:
    """An OpenAPI 2 schema as JSON Schema: references inlined, nullable spelt as a type, unknown keys refused."""
    if "$ref" in schema:
        return json_schema(definitions[schema["$ref"].rsplit("/", 1)[1]], definitions)
    out = {}
    for key, value in schema.items():
        if key in _OPENAPI_ONLY:
            continue
        if key == "properties":
            value = {name: json_schema(prop, definitions) for name, prop in value.items()}
        elif key == "items":
            value = json_schema(value, definitions)
        out[key] = value
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        del out["type"]  # a JSON field: any JSON value (a number, a text, a list)
    if schema.get("x-nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
    return out


def operation_catalogue() -> list[dict]:
    names, definitions = operation_definitions()
    return [{"name": name, "summary": op.summary, "parameters": json_schema(definitions[names[name]], definitions)}
            for name, op in all_operations().items()]


def parameters_table() -> str:
    """The operations and their parameters as a Markdown table (for the submit endpoint's description)."""
    lines = ["| operation | parameters (* required) |", "|---|---|"]
    for entry in operation_catalogue():
        schema, described = entry["parameters"], []
        for name, prop in schema.get("properties", {}).items():
            kind = prop.get("type", "any JSON value")
            if kind == "array":
                kind = f"list of {prop.get('items', {}).get('type', 'objects')}"
            text = f"`{name}`{'*' if name in schema.get('required', []) else ''} {kind}"
            if "enum" in prop:
                text += f": {' '.join(map(str, prop['enum']))}"
            if "minimum" in prop or "maximum" in prop:
                text += f" {prop.get('minimum', '')}–{prop.get('maximum', '')}"
            if "default" in prop:
                text += f" (default {prop['default']})"
            described.append(text)
        lines.append(f"| `{entry['name']}` | {'; '.join(described) or 'none'} |")
    return "\n".join(lines)


def _endpoints(request) -> dict:
    """Every named /api/ route, as an absolute URL template ({dataset_id} where an id goes)."""
    from .. import urls

    base, found = request.build_absolute_uri("/api/"), {}
    for pattern in urls.urlpatterns:
        if pattern.name and pattern.name != "api-index":
            found[pattern.name] = base + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
    return found


class ApiIndexApi(PublicApi):
    @swagger_auto_schema(operation_summary="The API's index: its endpoints, docs and operation catalogue",
                         security=[], tags=["discovery"])
    def get(self, request):
        absolute = request.build_absolute_uri
        return Response({
            "name": "ravid",
            "version": settings.RAVID_VERSION,
            "docs": {"swagger": absolute(reverse("schema-swagger-ui")), "redoc": absolute(reverse("schema-redoc")),
                     "schema": absolute(reverse("schema-json", kwargs={"format": "json"}))},
            "endpoints": _endpoints(request),
            "operations": absolute(reverse("operation-catalogue")),
        })


class OperationCatalogueApi(PublicApi):
    @swagger_auto_schema(operation_summary="The operations and their parameters (JSON Schema)", security=[],
                         tags=["discovery"])
    def get(self, request):
        return Response(operation_catalogue())
