"""Page-number pagination with page_size, in the contract's list shape. `page` and `page_size` are checked like
every other integer parameter: out of range (or not a number) is a 400 naming it, never clamped or ignored."""
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination


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
