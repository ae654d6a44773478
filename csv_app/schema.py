"""The OpenAPI generator: documents each route once, as the contract spells it (no slash alias), and each
operation's parameters as a model of its own (from the serializers the server validates with)."""
from drf_yasg import openapi
from drf_yasg.generators import OpenAPISchemaGenerator

SUBMIT_PATH = "/api/perform-operation/"


class ApiSchemaGenerator(OpenAPISchemaGenerator):
    def get_paths(self, endpoints, components, request, public):
        canonical = {path: v for path, v in endpoints.items() if not (path.endswith("/") and path[:-1] in endpoints)}
        return super().get_paths(canonical, components, request, public)

    def get_schema(self, request=None, public=False):
        """The document, with OperationRequest (what every submit has) and one model per operation that adds its
        parameters to it (OpenAPI 2's allOf with `operation` as the discriminator)."""
        from analytics_app.registry import all_operations

        from .apis.discovery import operation_definitions

        schema = super().get_schema(request, public)
        names, referred = operation_definitions()
        definitions = schema.setdefault("definitions", {})
        for name, definition in referred.items():
            definitions.setdefault(name, definition)
        definitions["OperationRequest"] = openapi.Schema(
            type=openapi.TYPE_OBJECT, required=["operation"], discriminator="operation",
            description="The dataset (file_id) or task result (task_id) to read, the operation, and beside them the "
                        "operation's parameters: see the model named after each operation.",
            properties={
                "file_id": openapi.Schema(type=openapi.TYPE_STRING, format="uuid", description="The dataset to read"),
                "task_id": openapi.Schema(type=openapi.TYPE_STRING, format="uuid",
                                          description="Or: a finished task whose table result to read"),
                "operation": openapi.Schema(type=openapi.TYPE_STRING, enum=list(all_operations())),
                "fresh": openapi.Schema(type=openapi.TYPE_BOOLEAN, default=False,
                                        description="Compute again even when an identical request already "
                                                    "succeeded (otherwise that task is returned, reused: true)"),
            })
        for name, op in all_operations().items():
            definitions[name] = {"description": op.summary, "allOf": [
                {"$ref": "#/definitions/OperationRequest"}, {"$ref": f"#/definitions/{names[name]}"}]}
        submit = schema["paths"].get(SUBMIT_PATH, {}).get("post")
        for parameter in (submit or {}).get("parameters", []):
            if parameter.get("in") == "body":
                parameter["schema"] = {"$ref": "#/definitions/OperationRequest"}
        return schema
