"""Which conversation an inbound message belongs to (docs/inbox.md, "Threading").

Email, strongest evidence first:

1. `In-Reply-To` / `References` (and, for a bounce, the Message-ID of the mail that failed)
   name a message we already hold in this tenant → its conversation.
2. Our reply address `reply+<conversation.reply_token>@…` in To, Cc, Delivered-To,
   X-Original-To or Envelope-To → that conversation.
3. A ticket number in the subject, written `[#123]` (SUBJECT_TAG; our outgoing mail puts it
   there) → the ticket's latest conversation, but only when the sender is the ticket's contact:
   a number typed by anyone else never moves their mail into someone's thread. A ticket
   without a conversation is linked to the new conversation.
4. Otherwise a new conversation. Subjects alone never join messages: two customers writing
   "Invoice" stay apart, and a reply whose subject was changed still threads by 1 to 3.

SMS, WhatsApp, Messenger, Instagram (and any message carrying a `thread_id`): the channel's
latest conversation with the same thread key (customer address or sender id). An open or pending
one always continues; a resolved one continues, and is reopened, only when the message arrives
within `channel.reopen_window_hours` of its last message; after that a new conversation starts.

Web forms, post and fax without a thread id: every message starts a new conversation.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from channels_inbox.inbound import InboundMessage
from channels_inbox.models import Conversation, ConversationStatus, InboxKind, Message
from crm.models import Contact, Ticket

REPLY_TOKEN = re.compile(r"(?:^|[\s<,;\"'])reply\+([A-Za-z0-9_-]{8,40})@", re.IGNORECASE)
SUBJECT_TAG = "[#{number}]"
SUBJECT_TICKET = re.compile(r"\[#(\d{1,9})\]")
DELIVERY_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-forwarded-to")
# Kinds threaded by the customer's address / sender id rather than by mail headers.
KEYED_KINDS = frozenset(
    {InboxKind.SMS, InboxKind.WHATSAPP, InboxKind.MESSENGER, InboxKind.INSTAGRAM}
)


@dataclass(frozen=True)
class Thread:
    """Where a message goes: an existing `conversation`, or a new one (None) that carries
    `thread_key` and is linked to `ticket` when the subject named one."""

    conversation: Conversation | None
    matched_by: str = ""  # message_id, reply_token, ticket_number, thread_key; "" = new
    thread_key: str = ""
    ticket: Ticket | None = None


# --- helpers for outgoing mail (used by the replies) ------------------------------------------


def reply_address(*, conversation: Conversation, channel_address: str) -> str:
    """`reply+<token>@<domain of the channel's address>`: where the customer's answer to our
    mail should go so it threads even when their mail program drops the headers."""
    domain = channel_address.rsplit("@", 1)[-1]
    return f"reply+{conversation.reply_token}@{domain}"


def subject_with_ticket(subject: str, number: int | None) -> str:
    """The subject of our outgoing mail with the ticket tag, added once: "Re: Bill [#123]"."""
    if number is None:
        return subject
    tag = SUBJECT_TAG.format(number=number)
    return subject if tag in subject else f"{subject} {tag}".strip()


def thread_key_for(inbound: InboundMessage) -> str:
    return (inbound.thread_id or inbound.from_address or "").strip()[:254]


# --- finding the thread ----------------------------------------------------------------------


def _lock_key(channel_id: int, key: str) -> None:
    """Serialise concurrent messages of one thread on PostgreSQL so two first messages from one
    number cannot open two conversations (held until the transaction ends). SQLite serialises
    writers anyway."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)",
            [channel_id, zlib.crc32(key.encode("utf-8")) - 2**31],
        )


def _by_message_ids(inbound: InboundMessage) -> Conversation | None:
    ids = [i for i in [inbound.in_reply_to, *reversed(inbound.references)] if i]
    if not ids:
        return None
    candidates = list(
        Message.objects.filter(tenant_id=inbound.channel.tenant_id, message_id__in=ids)
        .select_related("conversation__ticket")
        .defer("raw")
        .order_by("-created_at", "-id")[:10]
    )
    if not candidates:
        return None
    # The same mail may have reached two of our addresses: prefer this channel's copy.
    same_channel = [m for m in candidates if m.channel_id == inbound.channel.pk]
    return (same_channel or candidates)[0].conversation


def _by_reply_token(inbound: InboundMessage) -> Conversation | None:
    places = [*inbound.to, *inbound.cc]
    places.extend(inbound.headers.get(name, "") for name in DELIVERY_HEADERS)
    tokens = list(dict.fromkeys(REPLY_TOKEN.findall(" " + " ".join(places))))
    if not tokens:
        return None
    in_tenant = Conversation.objects.select_related("ticket").filter(
        tenant_id=inbound.channel.tenant_id
    )
    found = in_tenant.filter(reply_token__in=tokens).order_by("-last_message_at").first()
    if found is None:
        # Some relays lower-case addresses; a case-blind match of a 24-character random token
        # is still unambiguous (no index for it, but this only runs when exact lookup failed).
        found = in_tenant.filter(reply_token__iexact=tokens[0]).first()
    return found


def _by_ticket_number(inbound: InboundMessage, contact: Contact | None) -> Thread | None:
    found = SUBJECT_TICKET.findall(inbound.subject or "")
    if not found or contact is None:
        return None
    ticket = Ticket.objects.filter(
        tenant_id=inbound.channel.tenant_id, number=int(found[-1]), contact=contact
    ).first()
    if ticket is None:
        return None
    conversations = list(
        ticket.conversations.select_related("ticket").order_by("-last_message_at", "-id")[:10]
    )
    same_channel = [c for c in conversations if c.channel_id == inbound.channel.pk]
    conversation = (same_channel or conversations or [None])[0]
    return Thread(conversation=conversation, matched_by="ticket_number", ticket=ticket)


def _by_key(inbound: InboundMessage, key: str, now: datetime) -> Thread:
    channel = inbound.channel
    _lock_key(channel.pk, key)
    latest = (
        Conversation.objects.select_related("ticket")
        .filter(channel=channel, thread_key=key)
        .order_by("-last_message_at", "-id")
        .first()
    )
    if latest is not None:
        window = timedelta(hours=channel.reopen_window_hours)
        if latest.status != ConversationStatus.RESOLVED or latest.last_message_at >= now - window:
            return Thread(conversation=latest, matched_by="thread_key", thread_key=key)
    return Thread(conversation=None, thread_key=key)


def thread_find(
    *, inbound: InboundMessage, contact: Contact | None, kind: str, now: datetime
) -> Thread:
    """The conversation `inbound` (from `contact`, travelling as `kind`) continues, or None
    for a new one; without a contact the ticket-number rule is skipped. Takes a per-thread
    lock on PostgreSQL for keyed kinds: call it inside the receiving transaction."""
    if kind == InboxKind.FAX and inbound.channel.kind == InboxKind.EMAIL:
        return Thread(conversation=None)  # a fax by email is a new document, not a reply
    if kind == InboxKind.EMAIL:
        conversation = _by_message_ids(inbound)
        if conversation is not None:
            return Thread(conversation=conversation, matched_by="message_id")
        conversation = _by_reply_token(inbound)
        if conversation is not None:
            return Thread(conversation=conversation, matched_by="reply_token")
        return _by_ticket_number(inbound, contact) or Thread(conversation=None)
    if inbound.thread_id or kind in KEYED_KINDS:
        key = thread_key_for(inbound)
        if key:
            return _by_key(inbound, key, now)
    return Thread(conversation=None)
