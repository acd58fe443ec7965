"""Adding to a contact's timeline: the one function every app uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from crm.models import Contact, Ticket, TimelineEntry
from crm.tenancy import Principal

SUMMARY_MAX = TimelineEntry._meta.get_field("summary").max_length


def timeline_add(
    *,
    tenant_id: int,
    contact: Contact,
    kind: str,
    summary: str,
    actor: Principal | None = None,
    ticket: Ticket | None = None,
    data: dict[str, Any] | None = None,
    ref_type: str = "",
    ref_id: str | int = "",
    occurred_at: datetime | None = None,
) -> TimelineEntry:
    """Record that something happened to `contact`.

    `kind` is a dotted event name (`ticket.created`, `call.ended`); higher apps point at their
    own rows with `ref_type` ("telephony.call") and `ref_id` instead of a foreign key. `data`
    must be JSON-serialisable. Runs in the caller's transaction; an over-long summary is
    shortened rather than refused, because a timeline entry must never make a write fail.
    """
    if contact.tenant_id != tenant_id:
        raise ValueError("timeline entry and contact belong to different tenants")
    if len(summary) > SUMMARY_MAX:
        summary = summary[: SUMMARY_MAX - 1] + "…"
    return TimelineEntry.objects.create(
        tenant_id=tenant_id,
        contact=contact,
        kind=kind,
        summary=summary,
        actor=actor.user if actor is not None else None,
        ticket=ticket,
        data=data or {},
        ref_type=ref_type,
        ref_id=str(ref_id),
        occurred_at=occurred_at or timezone.now(),
    )
