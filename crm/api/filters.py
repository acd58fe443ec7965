"""Query-string filters for the API lists.

Links are filtered by id (`NumberFilter` on `<link>_id`) rather than by django-filter's model
choice filters: those would validate the id against an unscoped table and so answer
differently for another tenant's id than for a missing one.
"""

from __future__ import annotations

import django_filters as filters
from django import forms

from crm.models import (
    AgentProfile,
    Contact,
    Organization,
    Presence,
    Ticket,
    TicketPriority,
    TicketStatus,
)

MAX_ID = 2**63 - 1


class IdFilter(filters.NumberFilter):
    """A row id: a whole number in the database's range (larger ones would crash SQLite)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class OrganizationFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    domain = filters.CharFilter(lookup_expr="iexact")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Organization
        fields = ["name", "domain", "updated_since"]


class ContactFilter(filters.FilterSet):
    tag = filters.CharFilter(field_name="tags__name", help_text="A tag's name.")
    organization = IdFilter(field_name="organization_id")
    updated_since = filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this time."
    )
    merged = filters.BooleanFilter(
        field_name="merged_into",
        lookup_expr="isnull",
        exclude=True,
        help_text="true: only contacts merged into another; false: only live ones.",
    )

    class Meta:
        model = Contact
        fields = ["tag", "organization", "updated_since", "merged"]


class TicketFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=TicketStatus.choices)
    priority = filters.MultipleChoiceFilter(choices=TicketPriority.choices)
    queue = IdFilter(field_name="queue_id")
    assignee = IdFilter(field_name="assignee_id")
    unassigned = filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")
    contact = IdFilter(field_name="contact_id")
    tag = filters.CharFilter(field_name="tags__name", help_text="A tag's name.")
    updated_since = filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    due_before = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")

    class Meta:
        model = Ticket
        fields = [
            "status",
            "priority",
            "queue",
            "assignee",
            "unassigned",
            "contact",
            "tag",
            "updated_since",
            "due_before",
        ]


class AgentFilter(filters.FilterSet):
    presence = filters.MultipleChoiceFilter(choices=Presence.choices)
    queue = IdFilter(field_name="queues__id", distinct=True)
    works_remotely = filters.BooleanFilter()

    class Meta:
        model = AgentProfile
        fields = ["presence", "queue", "works_remotely"]
