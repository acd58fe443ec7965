"""Reads of tickets and their notes, scoped to what the principal may see."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import Note, Ticket
from crm.tenancy import Principal, scope


def tickets_for(principal: Principal) -> QuerySet[Ticket]:
    """The tickets `principal` may see, with contact, queue, assignee and tags loaded (two
    queries for any page size)."""
    queryset = Ticket.objects.select_related("contact", "queue", "assignee").prefetch_related(
        "tags"
    )
    return scope(queryset, principal)


def notes_for_ticket(*, ticket: Ticket) -> QuerySet[Note]:
    """The ticket's internal notes, newest first, with their authors. The caller has already
    established that the ticket is visible (e.g. fetched it through `tickets_for`)."""
    return Note.objects.filter(ticket=ticket).select_related("author")
