"""Reads of a contact's timeline."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import Contact, TimelineEntry


def timeline_for_contact(*, contact: Contact) -> QuerySet[TimelineEntry]:
    """Newest first (ties broken by id, so cursor pagination is stable), with actor and ticket
    loaded. Served by the (contact, -occurred_at, -id) index. The caller has already
    established that the contact is visible."""
    return (
        TimelineEntry.objects.filter(contact=contact)
        .select_related("actor", "ticket")
        .order_by("-occurred_at", "-id")
    )
