"""Domain-event subscribers of the inbox (registered in `ChannelsInboxConfig.ready`)."""

from __future__ import annotations

from crm.events import DomainEvent, subscribe


@subscribe
def assign_accepted_conversation(event: DomainEvent) -> None:
    """An agent accepted a conversation's routing offer: they are now its assignee.

    Done here rather than in a Celery task because it is one short UPDATE and the agent's
    page, refreshed by the same `work.assigned` event, should already show them as assignee.
    """
    from channels_inbox.services.conversations import (
        REF_TYPE,
        conversation_assignee_from_routing,
    )

    if event.name != "work.assigned" or event.payload.get("ref_type") != REF_TYPE:
        return
    if event.payload.get("offer_id") is None:
        return  # recorded by conversation_assign itself, which chose the agent
    ref_id = str(event.payload.get("ref_id", ""))
    if not ref_id.isdigit() or event.agent_user_id is None:
        return
    conversation_assignee_from_routing(conversation_id=int(ref_id), user_id=event.agent_user_id)


@subscribe
def move_conversations_of_merged_contact(event: DomainEvent) -> None:
    """crm merged two contacts: the merged-away contact's conversations follow it."""
    from channels_inbox.services.conversations import conversations_follow_merge

    if event.name != "contact.merged":
        return
    source, target = event.payload.get("source_id"), event.payload.get("target_id")
    if not isinstance(source, int) or not isinstance(target, int):
        return
    conversations_follow_merge(tenant_id=event.tenant_id, source_id=source, target_id=target)
