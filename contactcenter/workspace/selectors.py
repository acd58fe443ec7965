"""Reads for the agent workspace and the supervisor wallboard.

This package sits above `crm` and `telephony` (it composes them; `crm` never imports it). Every
read starts from a principal and goes through crm.tenancy's `scope()` or a crm selector, and
every function runs a fixed number of queries whatever the amount of data, so the pages' first
render cannot grow into N+1 (tests/workspace/test_query_counts.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Exists, Prefetch, Q, QuerySet
from django.utils.translation import gettext_lazy

from channels_inbox.models import Conversation, ConversationStatus, Message
from channels_inbox.selectors import (
    InboxFilter,
    conversations_for,
    filter_conversations,
    inbox_for_agent,
    messages_for,
)
from channels_inbox.services.conversations import REF_TYPE as CONVERSATION_REF_TYPE
from crm.identities import normalize_identity
from crm.models import (
    AgentProfile,
    Contact,
    ContactIdentity,
    CustomAttributeDefinition,
    IdentityKind,
    Offer,
    Queue,
    Ticket,
    TicketStatus,
    TimelineEntry,
    WorkItem,
)
from crm.selectors.tickets import tickets_for
from crm.selectors.timeline import timeline_for_contact
from crm.tenancy import Principal, scope
from telephony.models import Call, Recording
from telephony.services.calls import REF_TYPE as CALL_REF_TYPE

# Tickets in these states are finished: they leave the agent's work list.
CLOSED_TICKET_STATUSES = (TicketStatus.SOLVED, TicketStatus.CLOSED)
WORK_LIST_LIMIT = 50
# Short labels for timeline entry kinds (the badge); an unknown kind shows as it is.
TIMELINE_LABELS = {
    "call.ended": gettext_lazy("Call"),
    "call.answered": gettext_lazy("Call"),
    "call.wrapped_up": gettext_lazy("Wrap-up"),
    "voicemail.received": gettext_lazy("Voicemail"),
    "message.received": gettext_lazy("Message"),
    "message.note": gettext_lazy("Note"),
    "note.added": gettext_lazy("Note"),
    "ticket.created": gettext_lazy("Ticket"),
    "ticket.status_changed": gettext_lazy("Ticket"),
    "ticket.updated": gettext_lazy("Ticket"),
    "ticket.assigned": gettext_lazy("Ticket"),
    "contact.created": gettext_lazy("Contact"),
    "contact.updated": gettext_lazy("Contact"),
    "contact.merged": gettext_lazy("Merge"),
    "survey.response_saved": gettext_lazy("Survey"),
}
WAITING_LIMIT = 20
QueueAgent = AgentProfile.queues.through
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


def pending_offers_for(*, agent: AgentProfile) -> list[Offer]:
    """The agent's offers still waiting for an answer, soonest to expire first; an offered
    conversation comes with `offer.conversation` (contact, channel, subject): two queries."""
    offers = list(
        Offer.objects.filter(agent=agent, status=Offer.Status.PENDING)
        .select_related("work_item__queue")
        .order_by("expires_at", "pk")
    )
    ids = [
        int(o.work_item.ref_id)
        for o in offers
        if o.work_item.ref_type == CONVERSATION_REF_TYPE and o.work_item.ref_id.isdigit()
    ]
    found = Conversation.objects.select_related("contact", "channel").in_bulk(ids) if ids else {}
    for offer in offers:
        ref = offer.work_item.ref_id
        is_conversation = offer.work_item.ref_type == CONVERSATION_REF_TYPE and ref.isdigit()
        offer.conversation = found.get(int(ref)) if is_conversation else None
    return offers


@dataclass(frozen=True)
class WorkFilter:
    queue_id: int | None = None
    status: str = ""  # a ticket or conversation status; empty for every open one
    channel: str = ""  # an inbox channel kind (conversations only)
    tag: str = ""  # a tag of the ticket, or of the conversation's contact
    search: str = ""

    @property
    def active(self) -> bool:
        return bool(self.queue_id or self.status or self.channel or self.tag or self.search)

    def for_inbox(self) -> InboxFilter:
        return InboxFilter(
            queue_id=self.queue_id,
            channel_kind=self.channel,
            status=self.status if self.status in ConversationStatus.values else "",
            tag=self.tag,
            search=self.search,
        )


def conversations_for_agent(
    *, principal: Principal, agent: AgentProfile, filters: WorkFilter
) -> list[Conversation]:
    """The agent's open and pending conversations (or those in the filtered status); a ticket
    status that conversations do not have shows none. One query."""
    if filters.status and filters.status not in ConversationStatus.values:
        return []
    return inbox_for_agent(principal=principal, agent=agent, filters=filters.for_inbox())


def waiting_conversations_for(
    *, principal: Principal, agent: AgentProfile, filters: WorkFilter
) -> list[Conversation]:
    """Open conversations nobody holds yet in the agent's queues (every queue of the tenant
    when the agent is in none), oldest first: the agent may take one. One query."""
    if filters.status and filters.status not in ConversationStatus.values:
        return []
    queryset = (
        conversations_for(principal)
        .filter(tenant_id=agent.tenant_id, assignee__isnull=True)
        .filter(Q(queue__agents=agent) | ~Exists(QueueAgent.objects.filter(agentprofile=agent)))
    )
    queryset = filter_conversations(queryset, filters.for_inbox())
    return list(queryset.order_by("last_message_at", "id")[:WAITING_LIMIT])


def assigned_work_for(*, agent: AgentProfile, filters: WorkFilter) -> list[WorkItem]:
    """Items assigned to the agent, by priority then age, each with `contact_id` set (the
    caller of a call, when known) so the contact panel can be opened from it: two queries.
    Conversations are left out: the work list shows them, richer, from the inbox."""
    queryset = WorkItem.objects.filter(agent=agent, status=WorkItem.Status.ASSIGNED).exclude(
        ref_type=CONVERSATION_REF_TYPE
    )
    if filters.channel or filters.tag or filters.search or filters.status:
        return []  # calls and callbacks have no channel kind, tag, text or status to match
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
    if filters.channel or (filters.status and filters.status not in TicketStatus.values):
        return queryset.none()  # a channel or a conversation-only status: not about tickets
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    else:
        queryset = queryset.exclude(status__in=CLOSED_TICKET_STATUSES)
    if filters.queue_id is not None:
        queryset = queryset.filter(queue_id=filters.queue_id)
    if filters.tag:
        queryset = queryset.filter(tags__name=filters.tag)
    if filters.search:
        text = filters.search
        number = Q(number=int(text)) if text.isdigit() and len(text) < 10 else Q()
        queryset = queryset.filter(
            Q(subject__icontains=text)
            | Q(contact__first_name__icontains=text)
            | Q(contact__last_name__icontains=text)
            | number
        )
    if filters.tag or filters.search:
        queryset = queryset.distinct()
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
    for entry in timeline:
        entry.label = TIMELINE_LABELS.get(entry.kind, entry.kind)
    return ContactCard(
        contact=contact, identities=list(contact.identities.all()), timeline=timeline
    )


def attribute_definitions(*, tenant_id: int) -> list[CustomAttributeDefinition]:
    return list(CustomAttributeDefinition.objects.filter(tenant_id=tenant_id).order_by("label"))


def contact_form_values(card: ContactCard, definitions: list) -> dict:
    """The contact edit form's initial values (identities one per line, tags comma-separated)."""
    contact = card.contact
    by_kind: dict[str, list[str]] = {}
    for identity in card.identities:
        by_kind.setdefault(identity.kind, []).append(identity.value)
    attributes = contact.custom_attributes or {}
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "language": contact.language,
        "time_zone": contact.time_zone,
        "phones": "\n".join(by_kind.get(IdentityKind.PHONE, [])),
        "emails": "\n".join(by_kind.get(IdentityKind.EMAIL, [])),
        "tags": ", ".join(tag.name for tag in contact.tags.all()),
        "attributes": {d.key: attributes.get(d.key, "") for d in definitions},
    }


def contact_lookup(*, principal: Principal, tenant_id: int, text: str) -> Contact | None:
    """A live contact of the tenant named by its number (#12 or 12), email or phone."""
    text = text.strip()
    if not text:
        return None
    contacts = scope(Contact.objects.filter(tenant_id=tenant_id), principal).filter(
        merged_into__isnull=True
    )
    digits = text.lstrip("#")
    if digits.isdigit() and len(digits) < 10:
        return contacts.filter(pk=int(digits)).first()
    kind = IdentityKind.EMAIL if "@" in text else IdentityKind.PHONE
    try:
        value = normalize_identity(kind, text, region=_tenant_region(tenant_id))
    except ValidationError:
        return None
    return contacts.filter(identities__kind=kind, identities__value=value).first()


def _tenant_region(tenant_id: int) -> str:
    from crm.models import Tenant

    return (
        Tenant.objects.filter(pk=tenant_id).values_list("default_region", flat=True).first() or ""
    )


def ticket_for_panel(*, principal: Principal, ticket_id: int, tenant_id: int) -> Ticket | None:
    return (
        tickets_for(principal)
        .filter(tenant_id=tenant_id, pk=ticket_id)
        .select_related("contact", "queue", "assignee")
        .prefetch_related("tags")
        .first()
    )


def tenant_agents(*, tenant_id: int) -> list[AgentProfile]:
    """The tenant's agents (for assignee choices), by name."""
    return list(
        AgentProfile.objects.filter(tenant_id=tenant_id, user__is_active=True)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    )


# --- supervisor --------------------------------------------------------------------------


# --- conversation view -------------------------------------------------------------------

THREAD_TIMELINE_LIMIT = 50
THREAD_MESSAGES_LIMIT = 200
OTHER_CONVERSATIONS_LIMIT = 10


@dataclass
class ThreadEntry:
    """One row of the conversation view: a message of this conversation, or something else
    on the contact's timeline (a call with its recording, a ticket, a survey answer, ...)."""

    at: datetime
    message: Message | None = None
    entry: TimelineEntry | None = None
    recordings: list = field(default_factory=list)


def conversation_thread(*, conversation: Conversation) -> list[ThreadEntry]:
    """This conversation's messages and notes with the contact's other timeline entries
    (newest THREAD_TIMELINE_LIMIT), oldest first. Calls come with their recordings. Four
    queries whatever the amount."""
    # The newest messages only: a years-long thread must not make the page slow (the API
    # pages through all of them).
    newest = messages_for(conversation=conversation).order_by("-created_at", "-id")
    messages = list(newest[:THREAD_MESSAGES_LIMIT])[::-1]
    # Entries about this very conversation (its messages, notes) repeat what the thread shows.
    entries = list(
        timeline_for_contact(contact=conversation.contact)
        .exclude(ref_type=CONVERSATION_REF_TYPE, ref_id=str(conversation.pk))
        # has_key first: without it the comparison is NULL for entries without the key, and
        # NOT (NULL) would leave those out too.
        .exclude(Q(data__has_key="conversation_id") & Q(data__conversation_id=conversation.pk))
        .select_related("actor")[:THREAD_TIMELINE_LIMIT]
    )
    call_ids = [c for c in (_call_id(e) for e in entries) if c is not None]
    recordings: dict[int, list[Recording]] = {}
    if call_ids:
        for recording in Recording.objects.filter(call_id__in=call_ids).order_by("created_at"):
            recordings.setdefault(recording.call_id, []).append(recording)
    rows = [ThreadEntry(at=m.created_at, message=m) for m in messages]
    for entry in entries:
        entry.label = TIMELINE_LABELS.get(entry.kind, entry.kind)
        call_id = _call_id(entry)
        rows.append(
            ThreadEntry(at=entry.occurred_at, entry=entry, recordings=recordings.get(call_id, []))
        )
    rows.sort(key=lambda row: row.at)
    return rows


def _call_id(entry: TimelineEntry) -> int | None:
    is_call = entry.ref_type == CALL_REF_TYPE and entry.ref_id.isdigit()
    return int(entry.ref_id) if is_call else None


def other_conversations(*, principal: Principal, conversation: Conversation) -> list[Conversation]:
    """The contact's other conversations (any channel), newest first."""
    return list(
        scope(Conversation.objects.filter(contact_id=conversation.contact_id), principal)
        .exclude(pk=conversation.pk)
        .select_related("channel")
        .order_by("-last_message_at", "-id")[:OTHER_CONVERSATIONS_LIMIT]
    )
