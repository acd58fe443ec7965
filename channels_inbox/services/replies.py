"""Agents' writes into a conversation: replies, forwards and internal notes, and their sending."""

from __future__ import annotations

from channels_inbox.models import Channel, Conversation, Message
from crm.tenancy import Principal


def message_reply(
    *,
    conversation: Conversation,
    actor: Principal,
    text: str,
    html: str = "",
    subject: str = "",
    cc: list[str] | None = None,
    attachments: list | None = None,
) -> Message:
    """Store an outbound `Message(status=queued)` on the conversation's channel and schedule its
    sending after commit (`channels_inbox.tasks.message_send`). Publishes `message.created`.
    (Contract.)"""
    raise NotImplementedError


def message_forward(
    *, message: Message, actor: Principal, to: list[str], text: str = ""
) -> Message:
    """Forward a message by email to `to` (with its attachments). (Contract.)"""
    raise NotImplementedError


def conversation_note_add(*, conversation: Conversation, actor: Principal, text: str) -> Message:
    """An internal note: never sent, visible to the tenant's staff. (Contract.)"""
    raise NotImplementedError


def message_auto_reply(
    *, conversation: Conversation, text: str, subject: str = "", html: str = ""
) -> Message | None:
    """An automatic message from the system (web form confirmation, survey link): sent on the
    conversation's channel (a web form's through its reply channel) with
    `Auto-Submitted: auto-replied`; never in answer to an auto-reply or a bounce (returns None
    then). (Contract.)"""
    raise NotImplementedError


def message_send(*, message_id: int) -> Message:
    """Send a queued message through its channel's provider; idempotent (a message already
    handed to the provider is not sent twice). (Contract.)"""
    raise NotImplementedError


def message_status_update(
    *,
    channel: Channel,
    external_id: str,
    status: str,
    error_code: str = "",
    error_message: str = "",
) -> Message | None:
    """A provider's status callback for one of `channel`'s outbound messages: never moves a
    message backwards (STATUS_RANK); an unknown id → None (recorded by the caller, ignored)."""
    raise NotImplementedError
