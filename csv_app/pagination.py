"""Page-number pagination with page_size, in the contract's list shape. `page` and `page_size` are checked like
every other integer parameter: out of range (or not a number) is a 400 naming it, never clamped or ignored."""
from drf_yasg import openapi
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination

# How a list endpoint's page parameters appear in the OpenAPI document, for views that declare them by hand.
PAGE_PARAMETERS = [openapi.Parameter("page", openapi.IN_QUERY, type=openapi.TYPE_INTEGER),
                   openapi.Parameter("page_size", openapi.IN_QUERY, type=openapi.TYPE_INTEGER)]


class PageQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, max_value=10_000_000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=1000)


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        PageQuery(data=request.query_params).is_valid(raise_exception=True)
        return super().paginate_queryset(queryset, request, view)
