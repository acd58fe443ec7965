"""Data protection: export everything held on a contact, and erase a contact.

Erasure anonymises content but keeps the rows that statistics count (tickets with their status,
priority, queue, assignee and timestamps; timeline entries with their kind and time), so
"tickets solved last month" still adds up after a customer asked to be forgotten.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm.audit import audit_record
from crm.events import publish
from crm.models import (
    AuditEntry,
    Contact,
    ContactIdentity,
    ContactMerge,
    Note,
    Ticket,
    TimelineEntry,
)
from crm.tenancy import Principal

ERASED = "[erased]"
EXPORT_FORMAT = 1


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _merged_family(contact: Contact) -> list[int]:
    """The contact's id and the ids of every contact merged into it, directly or in a chain.
    They are the same person, and a merged contact keeps its old name and fields."""
    ids = [contact.pk]
    frontier = [contact.pk]
    while frontier:
        frontier = list(
            Contact.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True)
        )
        ids.extend(frontier)
    return ids


def contact_export(*, contact: Contact, actor: Principal | None) -> dict[str, Any]:
    """Everything held on `contact` as a JSON-serialisable dict: its fields, identities, tags,
    custom attributes, organization, tickets (with their notes), notes, timeline and merges.
    Recorded in the audit trail as an "export"."""
    family = _merged_family(contact)
    tickets = (
        Ticket.objects.filter(contact_id=contact.pk)
        .select_related("queue", "assignee")
        .prefetch_related("tags", "notes")
        .order_by("number")
    )
    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(timezone.now()),
        "tenant": {"id": contact.tenant_id, "name": contact.tenant.name},
        "contact": {
            "id": contact.pk,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "language": contact.language,
            "time_zone": contact.time_zone,
            "consent_marketing": contact.consent_marketing,
            "consent_calls": contact.consent_calls,
            "consent_recording": contact.consent_recording,
            "custom_attributes": contact.custom_attributes,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
            "erased_at": _iso(contact.erased_at),
            "merged_into": contact.merged_into_id,
        },
        "organization": (
            {"id": contact.organization.pk, "name": contact.organization.name}
            if contact.organization_id
            else None
        ),
        "identities": [
            {
                "kind": i.kind,
                "value": i.value,
                "label": i.label,
                "is_primary": i.is_primary,
                "created_at": _iso(i.created_at),
            }
            for i in contact.identities.order_by("kind", "created_at", "pk")
        ],
        "tags": list(contact.tags.values_list("name", flat=True)),
        "tickets": [
            {
                "number": t.number,
                "subject": t.subject,
                "description": t.description,
                "status": t.status,
                "priority": t.priority,
                "queue": t.queue.name if t.queue_id else None,
                "assignee": str(t.assignee) if t.assignee_id else None,
                "tags": [tag.name for tag in t.tags.all()],
                "created_at": _iso(t.created_at),
                "first_response_at": _iso(t.first_response_at),
                "resolved_at": _iso(t.resolved_at),
                "closed_at": _iso(t.closed_at),
                "due_at": _iso(t.due_at),
                "notes": [
                    {"body": n.body, "created_at": _iso(n.created_at)}
                    for n in sorted(t.notes.all(), key=lambda n: (n.created_at, n.pk))
                ],
            }
            for t in tickets
        ],
        "notes": [
            {
                "body": n.body,
                "ticket": n.ticket.number if n.ticket_id else None,
                "author": str(n.author) if n.author_id else None,
                "created_at": _iso(n.created_at),
            }
            for n in Note.objects.filter(contact_id=contact.pk)
            .select_related("ticket", "author")
            .order_by("created_at", "pk")
        ],
        "timeline": [
            {
                "kind": e.kind,
                "summary": e.summary,
                "occurred_at": _iso(e.occurred_at),
                "data": e.data,
                "ticket": e.ticket.number if e.ticket_id else None,
            }
            for e in TimelineEntry.objects.filter(contact_id=contact.pk)
            .select_related("ticket")
            .order_by("-occurred_at", "-pk")
        ],
        "merged_contacts": [
            {"id": m.source_id, "merged_at": _iso(m.merged_at), "moved": m.moved}
            for m in ContactMerge.objects.filter(target_id__in=family).order_by("merged_at")
        ],
    }
    audit_record(actor=actor, action="export", obj=contact)
    return data


@transaction.atomic
def contact_erase(*, contact: Contact, actor: Principal | None) -> Contact:
    """Erase `contact` (and every contact merged into it): identities deleted, names, custom
    attributes, tags, organization link cleared, consents withdrawn; note bodies, timeline
    summaries and data, ticket subjects and descriptions replaced. Tickets, notes and timeline
    entries stay with their timestamps and kinds so aggregate statistics survive. Audit entries
    about these rows, and the admin's own history of them, keep who did what and when, but
    lose the names and values they quoted. Running it again is harmless."""
    family = _merged_family(contact)
    now = timezone.now()
    tickets = Ticket.objects.filter(contact_id__in=family)
    ticket_ids = list(tickets.values_list("pk", flat=True))
    counts = {
        "identities": ContactIdentity.objects.filter(contact_id__in=family).delete()[0],
        "tickets": tickets.update(subject=ERASED, description="", updated_at=now),
        "notes": Note.objects.filter(Q(contact_id__in=family) | Q(ticket_id__in=ticket_ids)).update(
            body=ERASED
        ),
        "timeline": TimelineEntry.objects.filter(contact_id__in=family).update(
            summary=ERASED, data={}
        ),
    }
    for member in Contact.objects.filter(pk__in=family):
        member.tags.clear()
    Contact.objects.filter(pk__in=family).update(
        first_name="",
        last_name="",
        organization=None,
        language="",
        time_zone="",
        custom_attributes={},
        consent_marketing=False,
        consent_calls=False,
        consent_recording=False,
        erased_at=now,
        updated_at=now,
    )
    contact_keys, ticket_keys = [str(i) for i in family], [str(i) for i in ticket_ids]
    AuditEntry.objects.filter(
        Q(object_type=Contact._meta.label_lower, object_id__in=contact_keys)
        | Q(object_type=Ticket._meta.label_lower, object_id__in=ticket_keys)
    ).update(object_repr=ERASED, changes={})
    # Django's admin keeps its own history of the pages it saved, quoting the row's name and
    # its inline rows (a contact's phone numbers) as they were then.
    types = ContentType.objects.get_for_models(Contact, Ticket)
    LogEntry.objects.filter(
        Q(content_type=types[Contact], object_id__in=contact_keys)
        | Q(content_type=types[Ticket], object_id__in=ticket_keys)
    ).update(object_repr=ERASED, change_message="")
    contact.refresh_from_db()
    audit_record(actor=actor, action="erase", obj=contact, changes=counts)
    publish("contact.erased", tenant_id=contact.tenant_id, payload={"id": contact.pk})
    return contact
