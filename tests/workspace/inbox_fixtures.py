"""Builders for inbox rows used by the workspace and inbox API tests (plain functions, so
any test file can import them; pytest fixtures stay in each test module)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone

from channels_inbox.models import (
    Channel,
    Conversation,
    InboxKind,
    Message,
    MessageDirection,
    MessageStatus,
)
from crm.models import ChannelKind
from tests.crm.factories import ContactFactory, ContactIdentityFactory, QueueFactory


def inbox_queue(tenant, name: str = "Support"):
    return QueueFactory(
        tenant=tenant,
        name=name,
        channel_kinds=[ChannelKind.VOICE, ChannelKind.CHAT, ChannelKind.EMAIL],
    )


def channel(tenant, queue, kind: str = InboxKind.EMAIL, **fields) -> Channel:
    defaults = {
        "name": f"{kind} {tenant.slug}",
        "address": "kundeservice@nordlys.example" if kind == InboxKind.EMAIL else "+4570100200",
    }
    defaults.update(fields)
    return Channel.objects.create(tenant=tenant, queue=queue, kind=kind, **defaults)


def conversation(
    chan: Channel,
    *,
    contact=None,
    assignee=None,
    subject: str = "Invoice question",
    messages: int = 1,
    text: str = "Hello, my invoice looks wrong.",
    **fields,
) -> Conversation:
    """A conversation with `messages` inbound messages (written directly, no routing)."""
    contact = contact or ContactFactory(tenant=chan.tenant)
    if not contact.identities.exists():
        ContactIdentityFactory(
            contact=contact, kind="email", value=f"c{contact.pk}@customer.example"
        )
    now = timezone.now()
    conv = Conversation.objects.create(
        tenant=chan.tenant,
        channel=chan,
        contact=contact,
        queue=chan.queue,
        assignee=assignee,
        subject=subject,
        last_message_preview=text[:200],
        message_count=messages,
        unread_count=messages,
        last_message_at=now,
        last_inbound_at=now,
        **fields,
    )
    for i in range(messages):
        add_message(conv, text=text, at=now - timedelta(minutes=messages - i))
    return conv


def add_message(conv: Conversation, *, text: str = "Hi", html: str = "", at=None, **fields):
    fields.setdefault("direction", MessageDirection.INBOUND)
    fields.setdefault("status", MessageStatus.RECEIVED)
    fields.setdefault("from_address", f"c{conv.contact_id}@customer.example")
    return Message.objects.create(
        tenant=conv.tenant,
        conversation=conv,
        channel=conv.channel,
        kind=conv.channel.kind,
        external_id="ext-" + secrets.token_hex(8),
        subject=conv.subject,
        text=text,
        html=html,
        created_at=at or timezone.now(),
        **fields,
    )
