"""The one way in: every inbound message, whatever its channel, goes through `message_receive`.

What happens to a message (docs/inbox.md):

* A duplicate (same channel and external id) changes nothing: `created=False`.
* The sender becomes a contact (found by email, phone, WhatsApp number or Meta sender id;
  created when unknown). Post passes the contact explicitly.
* The message is threaded (`channels_inbox.threading`). A new conversation gets a ticket when
  `channel.auto_ticket`, or the ticket its subject named.
* A new conversation, or a resolved one the message reopens, is handed to routing unless an
  active work item already exists for it. A message to a pending conversation makes it open.
* Automatic mail (`auto_reply`, `bounce` flags) is stored and shown but reopens nothing,
  opens no ticket and starts no routing; unthreaded, it lands in a new conversation that is
  resolved from the start.
* Events: `conversation.created`, `conversation.status_changed` (reopened), `message.received`
  always, `message.flagged` (supervisors) when the message is `unparsed` or an attachment was
  refused.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from channels_inbox.email.quotes import split_quoted
from channels_inbox.email.sanitize import html_to_text
from channels_inbox.inbound import InboundMessage
from channels_inbox.models import (
    Channel,
    Conversation,
    ConversationStatus,
    InboxKind,
    Message,
    MessageDirection,
    MessageStatus,
)
from channels_inbox.services.attachments import attachments_screen, attachments_store
from channels_inbox.services.conversations import REF_TYPE
from channels_inbox.threading import Thread, thread_find
from crm.events import publish
from crm.identities import looks_like_phone, normalize_identity
from crm.models import Contact, ContactIdentity, IdentityKind, Ticket, TicketStatus, WorkItem
from crm.services.contacts import contact_create
from crm.services.routing import work_item_enqueue
from crm.services.tickets import ticket_create, ticket_transition
from crm.services.timeline import timeline_add

logger = logging.getLogger("channels_inbox")

PREVIEW_MAX = 200
AUTOMATIC_FLAGS = frozenset({"auto_reply", "bounce"})
SUPERVISOR_FLAGS = frozenset({"unparsed", "attachment_refused"})
TIMELINE_REF_TYPE = "channels_inbox.message"
MAX_FIELD = {
    f.name: f.max_length
    for f in Message._meta.get_fields()
    if getattr(f, "max_length", None) and f.get_internal_type() == "CharField"
}


@dataclass(frozen=True)
class Received:
    message: Message
    conversation: Conversation
    created: bool  # False: a duplicate delivery, nothing changed


# --- the sender ------------------------------------------------------------------------------


def _identity_of(channel: Channel, kind: str, address: str) -> tuple[str, str] | None:
    """(identity kind, normalised value) of a sender address, or None when it is no address."""
    address = (address or "").strip()
    if not address:
        return None
    if channel.kind in (InboxKind.MESSENGER, InboxKind.INSTAGRAM):
        identity_kind = channel.kind
    elif channel.kind == InboxKind.WHATSAPP or address.lower().startswith("whatsapp:"):
        identity_kind = IdentityKind.WHATSAPP
    elif "@" in address:
        identity_kind = IdentityKind.EMAIL
    elif looks_like_phone(address):
        identity_kind = IdentityKind.PHONE
    else:
        return _other(address)
    try:
        value = normalize_identity(identity_kind, address, region=channel.tenant.default_region)
    except ValidationError:
        return _other(address)
    return identity_kind, value


def _other(address: str) -> tuple[str, str] | None:
    """A sender address that is no valid email or phone number (an SMS short code, an
    alphanumeric sender id, a number in an unallocated range) is still the same sender every
    time: kept as an `other` handle so their messages share one contact. Text with spaces is
    no address at all."""
    if any(ch.isspace() for ch in address) or len(address) > 254:
        return None
    return IdentityKind.OTHER, address


def _lookup(tenant_id: int, identity: tuple[str, str]) -> Contact | None:
    kind, value = identity
    # A WhatsApp number is also a phone number: the customer we know by phone is the same one.
    # The exact kind wins. One equality lookup per kind: the unique (tenant, kind, value) index
    # answers each in one probe, where `kind IN (…)` made PostgreSQL scan every identity of the
    # tenant and filter on the kind (0.5 ms at 7,000 identities, growing with the tenant).
    kinds = [kind]
    if kind == IdentityKind.WHATSAPP:
        kinds.append(IdentityKind.PHONE)
    elif kind == IdentityKind.PHONE:
        kinds.append(IdentityKind.WHATSAPP)
    for candidate in kinds:
        found = next(
            iter(
                ContactIdentity.objects.select_related("contact").filter(
                    tenant_id=tenant_id, kind=candidate, value=value
                )[:1]
            ),
            None,
        )
        if found is not None:
            contact = found.contact
            # A merged-away contact's identities normally move with the merge; follow it anyway
            # (read only then: the join cost every message for a rare case).
            return contact.merged_into if contact.merged_into_id else contact
    return None


def _split_name(name: str) -> tuple[str, str]:
    name = " ".join((name or "").replace('"', "").split())
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip()[:100], last.strip()[:100]
    first, _, last = name.partition(" ")
    return first[:100], last[:100]


def contact_for_sender(*, channel: Channel, kind: str, address: str, name: str) -> Contact:
    """The tenant's contact behind `address` (found, else created with that identity)."""
    identity = _identity_of(channel, kind, address)
    if identity is not None:
        contact = _lookup(channel.tenant_id, identity)
        if contact is not None:
            return contact
    first_name, last_name = _split_name(name)
    if identity is None:
        # No usable address (an unreadable mail, a letter without one): a contact of its own,
        # named as well as we can, so the message is never lost.
        return contact_create(
            tenant=channel.tenant,
            actor=None,
            first_name=first_name or (address[:100] if address else "Unknown sender"),
            last_name=last_name,
        )
    identity_kind, value = identity
    arguments: dict = {}
    if identity_kind == IdentityKind.EMAIL:
        arguments["emails"] = [value]
    elif identity_kind == IdentityKind.PHONE:
        arguments["phones"] = [value]
    else:
        arguments["handles"] = [(identity_kind, value)]
    try:
        return contact_create(
            tenant=channel.tenant,
            actor=None,
            first_name=first_name,
            last_name=last_name,
            **arguments,
        )
    except ValidationError:
        # Another message from the same new sender won the race: theirs is ours.
        contact = _lookup(channel.tenant_id, identity)
        if contact is None:
            raise
        return contact


# --- the conversation ------------------------------------------------------------------------


def _preview(inbound: InboundMessage) -> str:
    text = inbound.text or html_to_text(inbound.html)
    new_text, _ = split_quoted(text)
    return " ".join(new_text.split())[:PREVIEW_MAX]


def _ticket_subject(inbound: InboundMessage, kind: str, preview: str) -> str:
    if inbound.subject.strip():
        return inbound.subject.strip()[:200]
    label = InboxKind(kind).label if kind in InboxKind.values else kind
    return f"{label} from {inbound.from_address or 'unknown sender'}: {preview[:60]}".strip(": ")


def _open_ticket(
    *, inbound: InboundMessage, contact: Contact, kind: str, preview: str, text: str
) -> Ticket:
    return ticket_create(
        tenant=inbound.channel.tenant,
        actor=None,
        subject=_ticket_subject(inbound, kind, preview),
        contact=contact,
        description=text[:5000],
        queue=inbound.channel.queue,
    )


def _reopen_ticket(
    *, conversation: Conversation, inbound: InboundMessage, contact: Contact, kind: str, preview
) -> None:
    """The customer wrote again: a solved or pending ticket opens; a closed one is final, so a
    new ticket follows it (when the channel opens tickets)."""
    ticket = conversation.ticket
    if ticket is None:
        return
    if ticket.status in (TicketStatus.SOLVED, TicketStatus.PENDING):
        ticket_transition(ticket=ticket, status=TicketStatus.OPEN, actor=None)
    elif ticket.status == TicketStatus.CLOSED and inbound.channel.auto_ticket:
        conversation.ticket = _open_ticket(
            inbound=inbound, contact=contact, kind=kind, preview=preview, text=inbound.text
        )


def _has_active_work(conversation: Conversation) -> bool:
    return (
        WorkItem.objects.filter(ref_type=REF_TYPE, ref_id=str(conversation.pk))
        .exclude(status__in=(WorkItem.Status.DONE, WorkItem.Status.CANCELLED))
        .exists()
    )


def _route(conversation: Conversation, channel: Channel, problems: list[str]) -> None:
    try:
        work_item_enqueue(
            tenant_id=conversation.tenant_id,
            queue=conversation.queue,
            kind=WorkItem.Kind.CONVERSATION,
            channel_kind=channel.routing_kind,
            ref_type=REF_TYPE,
            ref_id=str(conversation.pk),
        )
    except ValidationError as exc:
        # A queue that does not take this kind of work is a configuration error: the message
        # is kept (visible in the inbox) and the reason noted for the supervisor.
        logger.warning("conversation %s not routed: %s", conversation.pk, exc.messages)
        problems.append("Not routed: " + " ".join(exc.messages))


def _publish_status(conversation: Conversation, previous: str) -> None:
    publish(
        "conversation.status_changed",
        tenant_id=conversation.tenant_id,
        payload={
            "conversation_id": conversation.pk,
            "status": conversation.status,
            "previous_status": previous,
            "by_user_id": None,
        },
    )


# --- the service -----------------------------------------------------------------------------


def _existing(channel: Channel, external_id: str) -> Message | None:
    # (channel, external_id) is unique: no ORDER BY needed, unlike .first().
    found = Message.objects.select_related("conversation").filter(
        channel=channel, external_id=external_id
    )[:1]
    return next(iter(found), None)


def _clip(name: str, value: str) -> str:
    return _text(value)[: MAX_FIELD[name]]


def _text(value: str) -> str:
    # PostgreSQL refuses NUL characters in text and JSON; no channel has a use for them.
    return (value or "").replace("\x00", "")


def _cleaned(inbound: InboundMessage) -> InboundMessage:
    return dataclasses.replace(
        inbound,
        from_address=_text(inbound.from_address).strip(),
        from_name=_text(inbound.from_name).strip(),
        subject=_text(inbound.subject),
        text=_text(inbound.text),
        html=_text(inbound.html),
        headers={_text(k): _text(str(v)) for k, v in inbound.headers.items()},
        thread_id=_text(inbound.thread_id),
    )


def _receive(inbound: InboundMessage, contact: Contact | None) -> Received:
    inbound = _cleaned(inbound)
    channel = inbound.channel
    now = timezone.now()
    kind = inbound.kind or channel.kind
    screened = attachments_screen(inbound.attachments)
    flags = list(dict.fromkeys([*inbound.flags, *screened.flags]))
    problems = [*inbound.problems, *screened.problems]
    automatic = bool(AUTOMATIC_FLAGS.intersection(flags))
    preview = _preview(inbound)

    thread: Thread | None = None
    if contact is None and "bounce" in flags:
        # A bounce is written by a mail server, not a customer: it belongs to the contact of
        # the mail that failed, and MAILER-DAEMON never becomes a contact when that is known.
        thread = thread_find(inbound=inbound, contact=None, kind=kind, now=now)
        if thread.conversation is not None:
            contact = thread.conversation.contact
    if contact is None:
        contact = contact_for_sender(
            channel=channel, kind=kind, address=inbound.from_address, name=inbound.from_name
        )
    if thread is None or thread.conversation is None:
        thread = thread_find(inbound=inbound, contact=contact, kind=kind, now=now)
    conversation = thread.conversation
    created = reopened = False
    previous_status = ""
    if conversation is None:
        created = True
        ticket = thread.ticket
        if ticket is None and channel.auto_ticket and not automatic:
            ticket = _open_ticket(
                inbound=inbound, contact=contact, kind=kind, preview=preview, text=inbound.text
            )
        conversation = Conversation.objects.create(
            tenant_id=channel.tenant_id,
            channel=channel,
            contact=contact,
            queue=channel.queue,
            ticket=ticket,
            status=ConversationStatus.RESOLVED if automatic else ConversationStatus.OPEN,
            resolved_at=now if automatic else None,
            subject=inbound.subject[:300],
            thread_key=thread.thread_key,
            message_count=1,
            unread_count=0 if "auto_reply" in flags else 1,
            last_message_at=now,
            last_inbound_at=now,
            last_message_preview=preview,
            created_at=now,
        )
    else:
        changes: dict = {
            "message_count": F("message_count") + 1,
            "last_message_at": now,
            "last_inbound_at": now,
            "last_message_preview": preview,
        }
        if "auto_reply" not in flags:
            changes["unread_count"] = F("unread_count") + 1
        if not automatic and conversation.status != ConversationStatus.OPEN:
            # Re-read under the row lock: two messages reopening one conversation at once
            # must not both hand it to routing.
            conversation.status = (
                Conversation.objects.select_for_update()
                .values_list("status", flat=True)
                .get(pk=conversation.pk)
            )
        if not automatic and conversation.status != ConversationStatus.OPEN:
            previous_status = conversation.status
            reopened = conversation.status == ConversationStatus.RESOLVED
            conversation.status = changes["status"] = ConversationStatus.OPEN
            conversation.resolved_at = changes["resolved_at"] = None
            previous_ticket = conversation.ticket_id
            _reopen_ticket(
                conversation=conversation,
                inbound=inbound,
                contact=contact,
                kind=kind,
                preview=preview,
            )
            if conversation.ticket_id != previous_ticket:
                changes["ticket"] = conversation.ticket
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
        conversation.message_count += 1
        conversation.last_message_at = conversation.last_inbound_at = now
        conversation.last_message_preview = preview
        if "auto_reply" not in flags:
            conversation.unread_count += 1

    if not automatic and (created or (reopened and not _has_active_work(conversation))):
        _route(conversation, channel, problems)

    message = Message.objects.create(
        tenant_id=channel.tenant_id,
        conversation=conversation,
        channel=channel,
        direction=MessageDirection.INBOUND,
        kind=kind,
        status=MessageStatus.RECEIVED,
        external_id=inbound.external_id[:500],
        from_address=_clip("from_address", inbound.from_address),
        from_name=_clip("from_name", inbound.from_name),
        to_addresses=inbound.to,
        cc_addresses=inbound.cc,
        subject=_clip("subject", inbound.subject),
        text=inbound.text,
        html=inbound.html,
        headers=inbound.headers,
        message_id=_clip("message_id", inbound.message_id),
        in_reply_to=_clip("in_reply_to", inbound.in_reply_to),
        references=inbound.references,
        raw=inbound.raw,
        flags=flags,
        problems=problems,
        author_id=inbound.author_id,
        sent_at=inbound.sent_at,
        created_at=now,
    )
    attachments_store(message=message, attachments=screened.accepted)
    summary_label = InboxKind(kind).label if kind in InboxKind.values else kind
    timeline_add(
        tenant_id=channel.tenant_id,
        contact=contact,
        kind="message.received",
        summary=f"{summary_label} from {inbound.from_address or contact.display_name}: "
        f"{inbound.subject or preview}",
        ticket=conversation.ticket,
        data={"conversation_id": conversation.pk, "channel_id": channel.pk, "flags": flags},
        ref_type=TIMELINE_REF_TYPE,
        ref_id=message.pk,
        occurred_at=inbound.sent_at or now,
    )
    _announce(
        message=message,
        conversation=conversation,
        contact=contact,
        created=created,
        previous_status=previous_status,
        preview=preview,
    )
    return Received(message=message, conversation=conversation, created=True)


def _announce(
    *,
    message: Message,
    conversation: Conversation,
    contact: Contact,
    created: bool,
    previous_status: str,
    preview: str,
) -> None:
    tenant_id = conversation.tenant_id
    if created:
        publish(
            "conversation.created",
            tenant_id=tenant_id,
            payload={
                "conversation_id": conversation.pk,
                "channel_id": conversation.channel_id,
                "kind": message.kind,
                "contact_id": conversation.contact_id,
                "queue_id": conversation.queue_id,
                "ticket_id": conversation.ticket_id,
                "subject": conversation.subject,
            },
        )
    elif previous_status:
        _publish_status(conversation, previous_status)
    publish(
        "message.received",
        tenant_id=tenant_id,
        payload={
            "message_id": message.pk,
            "conversation_id": conversation.pk,
            "channel_id": message.channel_id,
            "kind": message.kind,
            "contact_id": contact.pk,
            "from": message.from_address,
            "subject": message.subject,
            "preview": preview,
            "assignee_id": conversation.assignee_id,
            "flags": message.flags,
        },
    )
    if SUPERVISOR_FLAGS.intersection(message.flags):
        publish(
            "message.flagged",
            tenant_id=tenant_id,
            payload={
                "message_id": message.pk,
                "conversation_id": conversation.pk,
                "channel_id": message.channel_id,
                "flags": message.flags,
                "problems": message.problems,
            },
        )


def message_receive(*, inbound: InboundMessage, contact: Contact | None = None) -> Received:
    """Dedupe on (channel, external id), find or create the contact by address (or take
    `contact`, e.g. for a scanned letter), thread into a conversation, open or link a ticket,
    hand the conversation to routing, publish `message.received`. Idempotent: a redelivery
    returns the stored message with `created=False` and changes nothing, also when two
    deliveries race (the unique constraint decides; the loser's work is rolled back).

    Runs in its own transaction (a savepoint inside the caller's); events go out on commit.
    On PostgreSQL, keyed threads (SMS, WhatsApp, Meta) are serialised per sender.
    """
    if not inbound.external_id:
        raise ValueError("An inbound message needs an external id (its natural key).")
    existing = _existing(inbound.channel, inbound.external_id[:500])
    if existing is not None:
        return Received(message=existing, conversation=existing.conversation, created=False)
    return message_receive_new(inbound=inbound, contact=contact)


def message_receive_new(*, inbound: InboundMessage, contact: Contact | None = None) -> Received:
    """`message_receive` for a caller that has just looked for the external id itself and
    found nothing (the email ingest does, to compare contents): saves that query. Still safe
    against a concurrent duplicate (the unique constraint decides)."""
    channel = inbound.channel
    try:
        with transaction.atomic():
            return _receive(inbound, contact)
    except IntegrityError:
        existing = _existing(channel, inbound.external_id[:500])
        if existing is None:
            raise
        return Received(message=existing, conversation=existing.conversation, created=False)
