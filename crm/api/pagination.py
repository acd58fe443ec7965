from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Stable pages however fast rows arrive; clients may ask for up to 200 rows a page."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")
