"""Cursor pagination: stable pages however fast rows arrive, and no COUNT(*) per page."""

from __future__ import annotations

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """The default. Clients may ask for up to 200 rows a page with `page_size`; the order is
    the view's `ordering` (or the client's `ordering` among the view's `ordering_fields`)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")


class FixedOrderCursorPagination(CursorPagination):
    """For nested lists (a contact's timeline, a ticket's notes) whose order is part of their
    meaning and must not follow the parent view's ordering options."""

    def __init__(self, ordering: tuple[str, ...]) -> None:
        self.ordering = ordering

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        return self.ordering
