"""Reads for the agent workspace and the supervisor wallboard.

This package sits above `crm` and `telephony` (it composes them; `crm` never imports it). Every
read starts from a principal and goes through crm.tenancy's `scope()` or a crm selector, and
every function runs a fixed number of queries whatever the amount of data, so the pages' first
render cannot grow into N+1 (tests/workspace/test_query_counts.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from crm.models import (
    AgentProfile,
    Contact,
    ContactIdentity,
    Offer,
    Queue,
    TicketStatus,
    WorkItem,
)
from crm.selectors.tickets import tickets_for
from crm.selectors.timeline import timeline_for_contact
from crm.tenancy import Principal, scope
from telephony.models import Call
from telephony.services.calls import REF_TYPE as CALL_REF_TYPE

# Tickets in these states are finished: they leave the agent's work list.
CLOSED_TICKET_STATUSES = (TicketStatus.SOLVED, TicketStatus.CLOSED)
WORK_LIST_LIMIT = 50
TIMELINE_LIMIT = 50


def agent_profile_for(*, principal: Principal, tenant_id: int | None = None) -> AgentProfile | None:
    """The signed-in user's agent profile in `tenant_id` (or their first tenant), or None when
    they are not an agent of a tenant they can see."""
    if principal.user is None:
        return None
    queryset = scope(
        AgentProfile.objects.filter(user=principal.user).select_related("tenant", "user"),
        principal,
    ).order_by("tenant_id")
    if tenant_id is not None:
        queryset = queryset.filter(tenant_id=tenant_id)
    return queryset.first()


def pending_offers_for(*, agent: AgentProfile) -> QuerySet[Offer]:
    """The agent's offers still waiting for an answer, soonest to expire first."""
    return (
        Offer.objects.filter(agent=agent, status=Offer.Status.PENDING)
        .select_related("work_item__queue")
        .order_by("expires_at", "pk")
    )


@dataclass(frozen=True)
class WorkFilter:
    queue_id: int | None = None
    status: str = ""  # a ticket status; empty for every open one


def assigned_work_for(*, agent: AgentProfile, filters: WorkFilter) -> list[WorkItem]:
    """Items assigned to the agent, by priority then age, each with `contact_id` set (the
    caller of a call, when known) so the contact panel can be opened from it: two queries."""
    queryset = WorkItem.objects.filter(agent=agent, status=WorkItem.Status.ASSIGNED)
    if filters.queue_id is not None:
        queryset = queryset.filter(queue_id=filters.queue_id)
    items = list(
        queryset.select_related("queue").order_by("-priority", "enqueued_at", "pk")[
            :WORK_LIST_LIMIT
        ]
    )
    _attach_contacts(items)
    return items


def _attach_contacts(items: list[WorkItem]) -> None:
    call_ids = [int(i.ref_id) for i in items if i.ref_type == CALL_REF_TYPE and i.ref_id.isdigit()]
    contacts: dict[str, int | None] = {}
    if call_ids:
        rows = Call.objects.filter(pk__in=call_ids).values_list("pk", "contact_id")
        contacts = {str(pk): contact_id for pk, contact_id in rows}
    for item in items:
        item.contact_id = contacts.get(item.ref_id) if item.ref_type == CALL_REF_TYPE else None


def open_tickets_for(*, principal: Principal, agent: AgentProfile, filters: WorkFilter):
    """The agent's own unfinished tickets in the agent's tenant, most urgent and oldest first."""
    queryset = tickets_for(principal).filter(tenant_id=agent.tenant_id, assignee=agent.user)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    else:
        queryset = queryset.exclude(status__in=CLOSED_TICKET_STATUSES)
    if filters.queue_id is not None:
        queryset = queryset.filter(queue_id=filters.queue_id)
    return queryset.order_by("-priority", "created_at", "pk")[:WORK_LIST_LIMIT]


def agent_queues(*, principal: Principal, agent: AgentProfile) -> QuerySet[Queue]:
    """Queues of the agent's tenant, for the work-list filter."""
    return scope(Queue.objects.filter(tenant_id=agent.tenant_id), principal).order_by("name")


@dataclass
class ContactCard:
    contact: Contact
    identities: list[ContactIdentity]
    timeline: list = field(default_factory=list)


def contact_card(*, principal: Principal, contact_id: int, tenant_id: int) -> ContactCard | None:
    """A contact of `tenant_id` the principal may see, with identities, tags and the newest
    timeline entries; None when absent or not visible (the view answers 404)."""
    contact = (
        scope(Contact.objects.filter(tenant_id=tenant_id), principal)
        .select_related("organization")
        .prefetch_related(
            Prefetch("identities", queryset=ContactIdentity.objects.order_by("kind", "pk")),
            "tags",
        )
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        return None
    timeline = list(timeline_for_contact(contact=contact)[:TIMELINE_LIMIT])
    return ContactCard(
        contact=contact, identities=list(contact.identities.all()), timeline=timeline
    )


# --- supervisor --------------------------------------------------------------------------
