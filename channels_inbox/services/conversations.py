"""Conversation writes used by agents, supervisors and the API: assignment and status."""

from __future__ import annotations

from channels_inbox.models import Conversation
from crm.models import User
from crm.tenancy import Principal

# How routing work items point at a conversation (WorkItem.ref_type / ref_id = conversation pk).
REF_TYPE = "channels_inbox.conversation"


def conversation_assign(
    *, conversation: Conversation, assignee: User | None, actor: Principal | None
) -> Conversation:
    """Give the conversation to `assignee` (an agent of its tenant) or unassign it; moves the
    routing work item with it; publishes `conversation.assigned`. (Contract.)"""
    raise NotImplementedError


def conversation_set_status(
    *, conversation: Conversation, status: str, actor: Principal | None
) -> Conversation:
    """Open, pend or resolve; resolving finishes the routing work item. Publishes
    `conversation.status_changed`. (Contract.)"""
    raise NotImplementedError
