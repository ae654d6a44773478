"""Reading the rows query (columns, f, sort, page, page_size) from a query string, and answering it."""
from rest_framework import serializers
from rest_framework.utils.urls import replace_query_param

from analytics_app.engine.errors import EngineError
from analytics_app.engine.predicates import Condition
from analytics_app.engine.rows import SortKey, read_page
from analytics_app.engine.tables import Table

from ..errors import ApiError
from ..storage import engine


class RowsQuerySerializer(serializers.Serializer):
    columns = serializers.CharField(required=False, help_text="Comma-separated column names.")
    sort = serializers.CharField(required=False, help_text="Comma-separated; prefix with - for descending.")
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=10_000_000)
    page_size = serializers.IntegerField(required=False, default=50, min_value=1, max_value=1000)


class RowsPageSerializer(serializers.Serializer):
    """The rows query's answer (documents the 200 in the OpenAPI document)."""

    class Meta:
        ref_name = "RowsPage"

    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Rows that match the filters.")
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True, help_text="The next page with the same query, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page with the same query, or null.")
    items = serializers.ListField(child=serializers.DictField(), help_text="The rows, {column: value}.")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_filter(raw: str) -> Condition:
    parts = raw.split(",", 2)
    if len(parts) < 2 or not parts[0]:
        raise ApiError(400, f"Filter '{raw}' must be column,operator,value.", {"f": [f"bad filter '{raw}'"]})
    value = parts[2] if len(parts) == 3 else None
    return Condition(parts[0], parts[1], value)


def rows_page(request, table: Table, schema: list[dict], total: int | None = None) -> dict:
    """The contract's page body for `table`, with links to the pages beside it (as the lists have); 400 in the
    envelope for any bad part of the query."""
    query_params = request.query_params
    known = {"columns", "f", "sort", "page", "page_size", "format"}
    unknown = sorted(set(query_params.keys()) - known)
    if unknown:
        raise ApiError(400, f"Unknown query parameter '{unknown[0]}'.", {unknown[0]: ["not a rows query parameter"]})
    data = RowsQuerySerializer(data=query_params)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    columns = _split(v["columns"]) if v.get("columns") else None
    sort = [SortKey(s.lstrip("-"), s.startswith("-")) for s in _split(v.get("sort", ""))]
    conditions = [parse_filter(raw) for raw in query_params.getlist("f")]
    try:
        with engine() as con:
            page = read_page(con, table, schema, columns, conditions, sort, v["page"], v["page_size"], total)
    except EngineError as exc:
        raise ApiError(400, exc.message, exc.details) from None
    size = v["page_size"]
    pages = (page.total + size - 1) // size
    here = request.build_absolute_uri()
    return {
        "page": v["page"],
        "page_size": size,
        "total": page.total,
        "pages": pages,
        "next": replace_query_param(here, "page", v["page"] + 1) if v["page"] < pages else None,
        "previous": replace_query_param(here, "page", min(v["page"] - 1, max(pages, 1))) if v["page"] > 1 else None,
        "items": page.items,
    }
