"""Reads of the inbox shared by the API, the agent workspace and the admin.

Every function starts from a principal (or a row already fetched through one) and goes through
`crm.tenancy.scope()`, so another tenant's rows are simply absent. Lists join or prefetch what
they render, so their query count does not grow with the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from channels_inbox.models import (
    Attachment,
    CannedResponse,
    Channel,
    Conversation,
    ConversationStatus,
    Message,
)
from crm.models import AgentProfile
from crm.tenancy import Principal, scope

# Open and pending conversations are the agent's; resolved ones have left the inbox.
ACTIVE_STATUSES = (ConversationStatus.OPEN, ConversationStatus.PENDING)
INBOX_LIMIT = 50


def conversations_for(principal: Principal) -> QuerySet[Conversation]:
    """Conversations of the principal's tenants, newest activity first, with what a list row
    shows (channel, contact, queue, assignee) joined."""
    return scope(
        Conversation.objects.select_related("channel", "contact", "queue", "assignee", "ticket"),
        principal,
    ).order_by("-last_message_at", "-id")


def conversation_get(*, principal: Principal, pk: int) -> Conversation:
    """One conversation the principal may see; Http404 otherwise (another tenant's too)."""
    conversation = conversations_for(principal).filter(pk=pk).first()
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


def messages_for(*, conversation: Conversation) -> QuerySet[Message]:
    """The conversation's messages and notes, oldest first, with authors and attachments.
    The raw original is deferred: it can be megabytes and no list shows it."""
    return (
        Message.objects.filter(conversation=conversation)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .defer("raw")
        .order_by("created_at", "id")
    )


def channels_for(principal: Principal) -> QuerySet[Channel]:
    return scope(Channel.objects.select_related("queue", "tenant"), principal).order_by(
        "tenant_id", "name", "id"
    )


def attachment_get(*, principal: Principal, pk: int) -> Attachment:
    """An attachment of a message the principal may see; Http404 otherwise."""
    attachment = (
        scope(Attachment.objects.select_related("message"), principal).filter(pk=pk).first()
    )
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment


def canned_responses_for(*, principal: Principal, tenant_id: int) -> QuerySet[CannedResponse]:
    return scope(CannedResponse.objects.filter(tenant_id=tenant_id), principal).order_by(
        "title", "id"
    )


def flagged_messages_for(principal: Principal) -> QuerySet[Message]:
    """Messages the ingest flagged as unparsed or with refused attachments: for supervisors."""
    return (
        scope(Message.objects.all(), principal)
        .exclude(flags=[])
        .select_related("channel", "conversation")
        .defer("raw")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class InboxFilter:
    queue_id: int | None = None
    channel_kind: str = ""
    status: str = ""  # a conversation status; empty for open and pending
    tag: str = ""  # a tag on the contact
    search: str = ""


def filter_conversations(
    queryset: QuerySet[Conversation], filters: InboxFilter
) -> QuerySet[Conversation]:
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    else:
        queryset = queryset.filter(status__in=ACTIVE_STATUSES)
    if filters.queue_id is not None:
        queryset = queryset.filter(queue_id=filters.queue_id)
    if filters.channel_kind:
        queryset = queryset.filter(channel__kind=filters.channel_kind)
    if filters.tag:
        queryset = queryset.filter(contact__tags__name=filters.tag)
    if filters.search:
        text = filters.search
        queryset = queryset.filter(
            Q(subject__icontains=text)
            | Q(last_message_preview__icontains=text)
            | Q(contact__first_name__icontains=text)
            | Q(contact__last_name__icontains=text)
        )
    if filters.tag or filters.search:
        queryset = queryset.distinct()
    return queryset


def inbox_for_agent(
    *, principal: Principal, agent: AgentProfile, filters: InboxFilter | None = None
) -> list[Conversation]:
    """The agent's own conversations in the agent's tenant, unread first, then newest: one
    query, at most INBOX_LIMIT rows."""
    queryset = conversations_for(principal).filter(
        tenant_id=agent.tenant_id, assignee_id=agent.user_id
    )
    queryset = filter_conversations(queryset, filters or InboxFilter())
    return list(queryset.order_by("-unread_count", "-last_message_at", "-id")[:INBOX_LIMIT])


def unassigned_for(
    *, principal: Principal, tenant_id: int, filters: InboxFilter | None = None
) -> list[Conversation]:
    """Open conversations of the tenant nobody holds yet (waiting in their queue)."""
    queryset = conversations_for(principal).filter(tenant_id=tenant_id, assignee__isnull=True)
    queryset = filter_conversations(queryset, filters or InboxFilter())
    return list(queryset[:INBOX_LIMIT])
