"""Writes on tickets and internal notes.

Status transitions are defined here and nowhere else (`ALLOWED_TRANSITIONS`):

    new      -> open, pending, on_hold, solved, closed
    open     -> pending, on_hold, solved, closed
    pending  -> open, on_hold, solved, closed
    on_hold  -> open, pending, solved, closed
    solved   -> open (reopen), closed
    closed   -> nothing: closed is final; a follow-up is a new ticket

Nothing goes back to `new`: it means "nobody has looked at this yet".

Timestamps:

* `resolved_at` is set when a ticket becomes solved, or closed without having been solved;
  reopening (solved -> open) clears it, so resolution time measures the final resolution.
* `closed_at` is set when a ticket is closed.
* `first_response_at` is set by `ticket_record_first_response` only, which the inbox calls on
  the first public reply and telephony on the first answered call. A status change or an
  internal note is not a response the customer sees, so it does not count.

Every write records an audit entry, adds to the contact's timeline and publishes an event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from crm.audit import audit_record
from crm.events import publish
from crm.models import (
    Contact,
    Membership,
    Note,
    Queue,
    Tag,
    Tenant,
    Ticket,
    TicketPriority,
    TicketStatus,
    User,
)
from crm.services.tags import tags_replace, tags_resolve
from crm.services.timeline import timeline_add
from crm.tenancy import Principal

S = TicketStatus
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.OPEN, S.PENDING, S.ON_HOLD, S.SOLVED, S.CLOSED}),
    S.OPEN: frozenset({S.PENDING, S.ON_HOLD, S.SOLVED, S.CLOSED}),
    S.PENDING: frozenset({S.OPEN, S.ON_HOLD, S.SOLVED, S.CLOSED}),
    S.ON_HOLD: frozenset({S.OPEN, S.PENDING, S.SOLVED, S.CLOSED}),
    S.SOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset(),
}

UPDATABLE_FIELDS = frozenset(
    {"subject", "description", "priority", "queue", "assignee", "tags", "due_at"}
)


class TransitionNotAllowed(Exception):
    """A status change `ALLOWED_TRANSITIONS` forbids. `allowed` lists what `current` may become
    (sorted), so the caller can tell the user what would work."""

    def __init__(self, current: str, requested: str) -> None:
        self.current = current
        self.requested = requested
        self.allowed: list[str] = sorted(ALLOWED_TRANSITIONS.get(current, frozenset()))
        allowed = ", ".join(self.allowed) or "nothing (it is final)"
        super().__init__(f"A {current} ticket cannot become {requested}; it can become: {allowed}.")


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "status": ticket.status,
        "contact_id": ticket.contact_id,
        "assignee_id": ticket.assignee_id,
    }


def _check_assignee(tenant_id: int, assignee: User | None) -> None:
    if assignee is None:
        return
    if not Membership.objects.filter(user=assignee, tenant_id=tenant_id).exists():
        raise ValidationError({"assignee": [f"{assignee} is not a member of this tenant."]})


def _check_links(
    tenant_id: int, *, contact: Contact | None = None, queue: Queue | None = None
) -> None:
    for name, obj in (("contact", contact), ("queue", queue)):
        if obj is not None and obj.tenant_id != tenant_id:
            raise ValidationError({name: [f"The {name} belongs to another tenant."]})


def _next_number(tenant: Tenant) -> int:
    # The tenant row is the lock: concurrent creators for one tenant queue up here until the
    # first commits, so numbers never collide (SQLite serialises writers anyway). The highest
    # existing number (one step down the unique (tenant, number) index) is also consulted, so
    # tickets written without this service (an import, the admin, test factories) cannot make
    # the next create fail. One UPDATE … RETURNING takes the lock, counts on and reads the
    # number (it was three statements: lock, MAX, update). A creator that waited for the lock
    # re-reads the counter the winner wrote, so it still counts on from the winner's number.
    tenant_table = connection.ops.quote_name(Tenant._meta.db_table)
    ticket_table = connection.ops.quote_name(Ticket._meta.db_table)
    counter = connection.ops.quote_name(Tenant._meta.get_field("last_ticket_number").column)
    number_column = connection.ops.quote_name(Ticket._meta.get_field("number").column)
    tenant_column = connection.ops.quote_name(Ticket._meta.get_field("tenant").column)
    tenant_pk = connection.ops.quote_name(Tenant._meta.pk.column)
    greatest = "MAX" if connection.vendor == "sqlite" else "GREATEST"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {tenant_table} SET {counter} = {greatest}({counter}, COALESCE("  # noqa: S608
            f"(SELECT MAX({number_column}) FROM {ticket_table} WHERE {tenant_column} = %s), 0)) "
            f"+ 1 WHERE {tenant_pk} = %s RETURNING {counter}",
            [tenant.pk, tenant.pk],
        )
        number = cursor.fetchone()[0]
    tenant.last_ticket_number = number
    return number


def _timeline(ticket: Ticket, *, kind: str, summary: str, actor: Principal | None, **data: Any):
    if ticket.contact_id is None:
        return
    timeline_add(
        tenant_id=ticket.tenant_id,
        contact=ticket.contact,
        kind=kind,
        summary=summary,
        actor=actor,
        ticket=ticket,
        data=data,
        ref_type="crm.ticket",
        ref_id=ticket.pk,
    )


@transaction.atomic
def ticket_create(
    *,
    tenant: Tenant,
    actor: Principal | None,
    subject: str,
    contact: Contact | None = None,
    description: str = "",
    priority: int = TicketPriority.NORMAL,
    queue: Queue | None = None,
    assignee: User | None = None,
    tags: Iterable[str | Tag] = (),
    due_at: datetime | None = None,
) -> Ticket:
    """Open a ticket numbered next in its tenant. Holds the tenant's row lock until the
    surrounding transaction commits, so keep that transaction short."""
    if not subject.strip():
        raise ValidationError({"subject": ["Enter a subject."]})
    _check_links(tenant.pk, contact=contact, queue=queue)
    _check_assignee(tenant.pk, assignee)
    ticket = Ticket.objects.create(
        tenant=tenant,
        number=_next_number(tenant),
        subject=subject,
        description=description,
        priority=priority,
        contact=contact,
        queue=queue,
        assignee=assignee,
        due_at=due_at,
        created_by=actor.user if actor is not None else None,
    )
    tag_objects = tags_resolve(tenant_id=tenant.pk, tags=tags)
    if tag_objects:
        ticket.tags.add(*tag_objects)
    audit_record(actor=actor, action="create", obj=ticket, changes={"number": ticket.number})
    _timeline(
        ticket,
        kind="ticket.created",
        summary=f"Ticket #{ticket.number} opened: {subject}",
        actor=actor,
        number=ticket.number,
    )
    publish("ticket.created", tenant_id=tenant.pk, payload=ticket_payload(ticket))
    if assignee is not None:
        publish(
            "ticket.assigned",
            tenant_id=tenant.pk,
            payload={**ticket_payload(ticket), "previous_assignee_id": None},
        )
    return ticket


@transaction.atomic
def ticket_update(*, ticket: Ticket, actor: Principal | None, **fields: Any) -> Ticket:
    """Change subject, description, priority, queue, assignee, tags (replaced) or due_at.
    The status changes only through `ticket_transition`."""
    if "status" in fields:
        raise TypeError("change the status with ticket_transition()")
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"ticket_update() got unexpected fields: {', '.join(sorted(unknown))}")
    if "subject" in fields and not str(fields["subject"]).strip():
        raise ValidationError({"subject": ["Enter a subject."]})
    _check_links(ticket.tenant_id, queue=fields.get("queue"))
    if "assignee" in fields:
        _check_assignee(ticket.tenant_id, fields["assignee"])
    previous_assignee_id = ticket.assignee_id
    changes: dict[str, Any] = {}
    for name in ("subject", "description", "priority", "queue", "assignee", "due_at"):
        if name in fields and getattr(ticket, name) != fields[name]:
            changes[name] = [getattr(ticket, name), fields[name]]
            setattr(ticket, name, fields[name])
    if changes:
        # Only the changed columns: `ticket` may have been read before a concurrent transition,
        # and a full save would write its stale status and timestamps back over it.
        ticket.save(update_fields=[*changes, "updated_at"])
    if "tags" in fields:
        changed = tags_replace(obj=ticket, tenant_id=ticket.tenant_id, tags=fields["tags"])
        if changed:
            changes["tags"] = changed
    if not changes:
        return ticket
    audit_record(actor=actor, action="update", obj=ticket, changes=changes)
    _timeline(
        ticket,
        kind="ticket.updated",
        summary=f"Ticket #{ticket.number} changed: {', '.join(sorted(changes))}",
        actor=actor,
        fields=sorted(changes),
    )
    publish(
        "ticket.updated",
        tenant_id=ticket.tenant_id,
        payload={**ticket_payload(ticket), "fields": sorted(changes)},
    )
    if "assignee" in changes:
        publish(
            "ticket.assigned",
            tenant_id=ticket.tenant_id,
            payload={**ticket_payload(ticket), "previous_assignee_id": previous_assignee_id},
        )
    return ticket


@transaction.atomic
def ticket_transition(*, ticket: Ticket, status: str, actor: Principal | None) -> Ticket:
    """Move `ticket` to `status`, or raise `TransitionNotAllowed` (also for an unknown status).

    Locks the ticket row and checks against the status in the database, so two agents
    changing one ticket at once cannot both move it from the same state. Moving to the current
    status is a no-op.
    """
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    current = locked.status
    if status == current:
        return ticket
    if status not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        raise TransitionNotAllowed(current, status)
    now = timezone.now()
    ticket.status = status
    ticket.resolved_at, ticket.closed_at = locked.resolved_at, locked.closed_at
    if status == S.SOLVED:
        ticket.resolved_at = now
    elif status == S.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = locked.resolved_at or now
    elif current == S.SOLVED:
        ticket.resolved_at = None  # reopened
    ticket.save(update_fields=["status", "resolved_at", "closed_at", "updated_at"])
    audit_record(actor=actor, action="update", obj=ticket, changes={"status": [current, status]})
    _timeline(
        ticket,
        kind="ticket.status_changed",
        summary=f"Ticket #{ticket.number}: {S(current).label} → {S(status).label}",
        actor=actor,
        previous=current,
        status=status,
    )
    publish(
        "ticket.status_changed",
        tenant_id=ticket.tenant_id,
        payload={**ticket_payload(ticket), "previous_status": current},
    )
    return ticket


def ticket_assign(*, ticket: Ticket, assignee: User | None, actor: Principal | None) -> Ticket:
    """Give `ticket` to `assignee` (a member of the ticket's tenant), or unassign with None."""
    return ticket_update(ticket=ticket, actor=actor, assignee=assignee)


@transaction.atomic
def ticket_record_first_response(*, ticket: Ticket, at: datetime | None = None) -> bool:
    """Record when the customer first got an answer. Idempotent: only the first call counts,
    also under concurrency (a conditional UPDATE). Returns whether this call recorded it."""
    at = at or timezone.now()
    updated = Ticket.objects.filter(pk=ticket.pk, first_response_at__isnull=True).update(
        first_response_at=at
    )
    if updated:
        ticket.first_response_at = at
    return bool(updated)


def note_check_links(*, contact: Contact | None, ticket: Ticket | None) -> None:
    """Raise `ValidationError` unless a note with this contact and ticket makes sense: at least
    one of them, of one tenant, and a ticket of that very contact (or of none). Forms call it to
    show the error next to the field; `note_add` calls it too."""
    if contact is None and ticket is None:
        raise ValidationError("A note needs a contact or a ticket.")
    if contact is None or ticket is None:
        return
    _check_links(ticket.tenant_id, contact=contact)
    if ticket.contact_id not in (None, contact.pk):
        # The note would sit on one customer's timeline while describing another's ticket.
        raise ValidationError({"contact": ["The ticket belongs to another contact."]})


@transaction.atomic
def note_add(
    *,
    actor: Principal | None,
    body: str,
    contact: Contact | None = None,
    ticket: Ticket | None = None,
) -> Note:
    """Add an internal note to a contact, a ticket, or both (a ticket's note is also on the
    ticket's contact's timeline). Notes are never sent to the customer."""
    if not body.strip():
        raise ValidationError({"body": ["Write something."]})
    note_check_links(contact=contact, ticket=ticket)
    if contact is None:
        contact = ticket.contact
    tenant_id = ticket.tenant_id if ticket is not None else contact.tenant_id
    note = Note.objects.create(
        tenant_id=tenant_id,
        contact=contact,
        ticket=ticket,
        author=actor.user if actor is not None else None,
        body=body,
    )
    audit_record(actor=actor, action="create", obj=note, tenant_id=tenant_id)
    if contact is not None:
        timeline_add(
            tenant_id=tenant_id,
            contact=contact,
            kind="note.added",
            summary=body.strip().splitlines()[0],
            actor=actor,
            ticket=ticket,
            ref_type="crm.note",
            ref_id=note.pk,
        )
    publish(
        "note.added",
        tenant_id=tenant_id,
        payload={
            "id": note.pk,
            "contact_id": note.contact_id,
            "ticket_id": note.ticket_id,
        },
    )
    return note
