"""The API explains itself: an index at /api/, the operation catalogue as JSON Schema, every operation's
parameters in the OpenAPI document, / sends a person to the docs."""
import pytest

from analytics_app.registry import all_operations

pytestmark = pytest.mark.django_db


def test_the_index_names_the_endpoints_the_docs_and_the_catalogue(api):
    body = api.get("/api/").json()
    assert body["name"] == "ravid" and body["version"]
    assert body["docs"] == {"swagger": "http://testserver/swagger/", "redoc": "http://testserver/redoc/",
                            "schema": "http://testserver/swagger.json"}
    assert body["operations"] == "http://testserver/api/operations/"
    assert body["endpoints"]["upload-csv"] == "http://testserver/api/upload-csv/"
    assert body["endpoints"]["task-rows"] == "http://testserver/api/tasks/{task_id}/rows"


def test_the_root_redirects_to_the_web_app(api):
    r = api.get("/")
    assert r.status_code == 302 and r["Location"] == "/app/"


def test_the_catalogue_is_json_schema_from_the_registry(api):
    catalogue = {entry["name"]: entry for entry in api.get("/api/operations/").json()}
    assert set(catalogue) == set(all_operations())
    dedup = catalogue["dedup"]["parameters"]
    assert dedup["type"] == "object" and dedup["additionalProperties"] is False
    assert dedup["properties"]["keep"] == {"type": "string", "enum": ["first", "last"], "default": "first"}
    assert dedup["properties"]["columns"]["type"] == "array"
    filters = catalogue["filter"]["parameters"]
    assert filters["required"] == ["filters"]
    condition = filters["properties"]["filters"]["items"]
    assert set(condition["properties"]) == {"column", "operator", "value"} and condition["required"] == ["column", "operator"]
    assert "type" not in condition["properties"]["value"], "a filter value may be any JSON value"
    assert catalogue["trend"]["parameters"]["properties"]["freq"]["enum"] == ["D", "W", "M", "Q", "Y"]
    assert catalogue["top"]["parameters"]["properties"]["limit"] == {
        "type": "integer", "maximum": 1000, "minimum": 1, "default": 10}


def test_every_operation_has_its_parameters_in_the_openapi_document(api):
    spec = api.get("/swagger.json").json()
    body = next(p for p in spec["paths"]["/api/perform-operation/"]["post"]["parameters"] if p["in"] == "body")
    assert body["schema"] == {"$ref": "#/definitions/OperationRequest"}
    base = spec["definitions"]["OperationRequest"]
    assert base["discriminator"] == "operation" and base["properties"]["operation"]["enum"] == list(all_operations())
    for name in all_operations():
        parts = spec["definitions"][name]["allOf"]
        assert parts[0] == {"$ref": "#/definitions/OperationRequest"}
        params = spec["definitions"][parts[1]["$ref"].rsplit("/", 1)[1]]
        assert set(params["properties"]) == set(all_operations()[name].params().fields), name
    description = spec["paths"]["/api/perform-operation/"]["post"]["description"]
    assert "| `pivot` | `rows`* list of string; `columns`* string;" in description


def test_the_task_body_and_its_schema_have_the_same_keys(client_a, ready_dataset, run_operation):
    body = run_operation(ready_dataset("a,b\n1,2\n"), "unique", column="a")
    spec = client_a.get("/swagger.json").json()
    assert set(spec["definitions"]["Task"]["properties"]) == set(body) | {"error", "webhook"}, \
        "error only on FAILURE, webhook only with a callback_url"


def test_the_rows_endpoints_document_their_answer(api):
    spec = api.get("/swagger.json").json()
    for path in ("/api/datasets/{dataset_id}/rows", "/api/tasks/{task_id}/rows"):
        assert spec["paths"][path]["get"]["responses"]["200"]["schema"] == {"$ref": "#/definitions/RowsPage"}
    assert set(spec["definitions"]["RowsPage"]["properties"]) == {
        "page", "page_size", "total", "pages", "next", "previous", "items"}
