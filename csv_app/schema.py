"""The OpenAPI generator: documents each route once, as the contract spells it (no slash alias)."""
from drf_yasg.generators import OpenAPISchemaGenerator


class ApiSchemaGenerator(OpenAPISchemaGenerator):
    def get_paths(self, endpoints, components, request, public):
        canonical = {path: v for path, v in endpoints.items() if not (path.endswith("/") and path[:-1] in endpoints)}
        return super().get_paths(canonical, components, request, public)
