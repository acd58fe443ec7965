"""Agents' writes into a conversation: replies, forwards and internal notes, and their sending.

A reply is stored first — `Message(direction=outbound, status=queued)` — and handed to the
`channels_inbox.tasks.message_send` Celery task once the transaction commits, so a rolled-back
request never sends and a slow provider never holds up the agent. The task calls
`message_send`, which claims the message with a conditional UPDATE (queued → sending) before
talking to the provider: a task that runs twice sends once.

Statuses only move forward (`STATUS_RANK`): queued → sending → sent → delivered/read, or
failed with the reason in `error_message`. The one step back is ours: a transient provider
error releases the claim (sending → queued) so the retry can claim it again. A failed message
can be queued again by an agent (`message_retry`).

Email threading: every outgoing email gets its Message-ID when it is stored (on the domain of
the address it is sent from), so a retry sends the same id; In-Reply-To/References point at the
customer's latest message; Reply-To is `reply+<conversation.reply_token>@<domain>`, which
threads the customer's answer even when their client drops the headers; the subject carries the
ticket marker `[#<ticket number>]` as a last fallback.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterable
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_inbox import threading as mail_threading
from channels_inbox.email.sanitize import html_to_text, sanitize_html
from channels_inbox.models import (
    STATUS_RANK,
    Attachment,
    Channel,
    Conversation,
    InboxKind,
    Message,
    MessageDirection,
    MessageStatus,
)
from channels_inbox.providers.base import OutboundMessage, SendError
from channels_inbox.providers.registry import REPLY_BY_EMAIL, email_channel_for, sender_for
from channels_inbox.services.attachments import safe_filename
from crm.events import publish
from crm.models import ContactIdentity, IdentityKind, Role
from crm.services.tickets import ticket_record_first_response
from crm.services.timeline import timeline_add
from crm.tenancy import Principal

logger = logging.getLogger(__name__)

REF_TYPE = "channels_inbox.message"
# Flags set by the ingest on messages nobody should answer automatically.
NO_AUTO_REPLY_FLAGS = frozenset({"auto_reply", "bounce", "unparsed"})
# How many References a reply carries (RFC 5322 lets a thread grow; servers cap header size).
MAX_REFERENCES = 20
PREVIEW_LENGTH = 200


class SendLater(Exception):
    """A transient provider failure: the message is queued again; retry after a while."""

    def __init__(self, reason: str, *, code: str = "") -> None:
        super().__init__(reason)
        self.code = code


# --- helpers -------------------------------------------------------------------------------


def _check_actor(actor: Principal, tenant_id: int) -> None:
    if not actor.has_role(tenant_id, Role.AGENT):
        raise PermissionDenied(_("Only the tenant's agents may write in its conversations."))


def _domain_of(address: str) -> str:
    _name, email = parseaddr(address)
    return email.rpartition("@")[2].lower() if "@" in email else ""


def new_message_id(channel: Channel | None) -> str:
    """A fresh RFC 5322 Message-ID on the domain of the address the mail is sent from."""
    domain = (_domain_of(channel.address) if channel else "") or "localhost"
    return f"<{timezone.now():%Y%m%d%H%M%S}.{secrets.token_hex(10)}@{domain}>"


def reply_address(conversation: Conversation, channel: Channel) -> str:
    """`reply+<token>@<domain>`: the address that threads a customer's answer back here."""
    if "@" not in channel.address:
        return ""
    return mail_threading.reply_address(conversation=conversation, channel_address=channel.address)


def ticket_marker(conversation: Conversation) -> str:
    if not conversation.ticket_id:
        return ""
    return mail_threading.SUBJECT_TAG.format(number=conversation.ticket.number)


def reply_subject(conversation: Conversation, subject: str = "") -> str:
    """`Re: <subject> [#<ticket>]`: the conversation's subject unless the agent typed one."""
    base = (subject or conversation.subject or "").strip()
    if not subject and base and not base.lower().startswith(("re:", "sv:", "odp:", "aw:")):
        base = f"Re: {base}"
    number = conversation.ticket.number if conversation.ticket_id else None
    return mail_threading.subject_with_ticket(base, number)[:500]


def _latest_inbound(conversation: Conversation) -> Message | None:
    return (
        conversation.messages.filter(direction=MessageDirection.INBOUND)
        .order_by("-created_at", "-id")
        .first()
    )


def _latest_from_customer(conversation: Conversation) -> Message | None:
    """The customer's latest own message: a bounce threaded into the conversation comes from
    MAILER-DAEMON, and answering it would write to the mail server instead of the customer."""
    recent = conversation.messages.filter(direction=MessageDirection.INBOUND).order_by(
        "-created_at", "-id"
    )[:20]
    return next((m for m in recent if "bounce" not in (m.flags or [])), None)


def _customer_email(conversation: Conversation, latest: Message | None) -> str:
    """Where an email answer goes: the customer's Reply-To, their From, else the contact's
    primary email address."""
    if latest is not None:
        reply_to = (latest.headers or {}).get("Reply-To") or (latest.headers or {}).get("reply-to")
        candidate = parseaddr(reply_to)[1] if reply_to else ""
        if not candidate and "@" in latest.from_address:
            candidate = latest.from_address
        if candidate:
            return candidate
    identity = (
        ContactIdentity.objects.filter(contact_id=conversation.contact_id, kind=IdentityKind.EMAIL)
        .order_by("-is_primary", "id")
        .first()
    )
    return identity.value if identity else ""


def _recipient(conversation: Conversation, latest: Message | None) -> str:
    channel = conversation.channel
    if channel.kind == InboxKind.EMAIL or channel.kind in REPLY_BY_EMAIL:
        return _customer_email(conversation, latest)
    # SMS/WhatsApp: the customer's number; Messenger/Instagram: the sender id (the thread key).
    return conversation.thread_key or (latest.from_address if latest else "")


def _threading_headers(
    conversation: Conversation, channel: Channel | None, latest: Message | None
) -> dict[str, str]:
    """In-Reply-To/References towards the customer's latest message, Reply-To with our token."""
    headers: dict[str, str] = {}
    anchor = latest
    if anchor is None or not anchor.message_id:
        anchor = conversation.messages.exclude(message_id="").order_by("-created_at", "-id").first()
    if anchor is not None and anchor.message_id:
        references = [ref for ref in (anchor.references or []) if ref]
        references.append(anchor.message_id)
        headers["References"] = " ".join(_angle(ref) for ref in references[-MAX_REFERENCES:])
        headers["In-Reply-To"] = _angle(anchor.message_id)
    if channel is not None:
        address = reply_address(conversation, channel)
        if address:
            headers["Reply-To"] = address
    return headers


def _angle(message_id: str) -> str:
    message_id = message_id.strip()
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def _is_email(channel: Channel) -> bool:
    return channel.kind == InboxKind.EMAIL or channel.kind in REPLY_BY_EMAIL


def _preview(text: str) -> str:
    return " ".join(text.split())[:PREVIEW_LENGTH]


def _touch_conversation(conversation: Conversation, message: Message, *, preview: bool) -> None:
    changes = {"message_count": F("message_count") + 1, "last_message_at": message.created_at}
    if preview:
        changes["last_message_preview"] = _preview(message.text)
    Conversation.objects.filter(pk=conversation.pk).update(**changes)


def _check_uploads(attachments: Iterable | None) -> None:
    """Agents may not send what customers may not send us (INBOX_FORBIDDEN_EXTENSIONS)."""
    forbidden = {
        ext.lower() if ext.startswith(".") else f".{ext.lower()}"
        for ext in settings.INBOX_FORBIDDEN_EXTENSIONS
    }
    for item in attachments or []:
        name = item.filename if isinstance(item, Attachment) else getattr(item, "name", "") or ""
        extension = os.path.splitext(name.strip().rstrip("."))[1].lower()
        if extension in forbidden:
            raise ValidationError(
                {
                    "attachments": [
                        _("Files of type %(type)s cannot be sent (“%(name)s”).")
                        % {"type": extension, "name": name}
                    ]
                }
            )


def _store_attachments(message: Message, attachments: Iterable | None) -> None:
    """Attachments are uploaded files (name, content_type, read()) or existing Attachments."""
    for item in attachments or []:
        if isinstance(item, Attachment):
            Attachment.objects.create(
                tenant_id=message.tenant_id,
                message=message,
                filename=item.filename,
                content_type=item.content_type,
                size=item.size,
                file=item.file.name,
                sha256=item.sha256,
            )
            continue
        content = item.read()
        content_type = getattr(item, "content_type", "") or "application/octet-stream"
        attachment = Attachment(
            tenant_id=message.tenant_id,
            message=message,
            filename=safe_filename(getattr(item, "name", "") or "", content_type),
            content_type=content_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        )
        attachment.file.save(attachment.filename, ContentFile(content), save=False)
        attachment.save()


def _publish_created(message: Message) -> None:
    publish(
        "message.created",
        tenant_id=message.tenant_id,
        payload={
            "message_id": message.pk,
            "conversation_id": message.conversation_id,
            "direction": message.direction,
            "kind": message.kind,
            "author_id": message.author_id,
            "preview": _preview(message.text),
        },
    )


def _publish_status(message: Message, previous: str) -> None:
    publish(
        "message.status_changed",
        tenant_id=message.tenant_id,
        payload={
            "message_id": message.pk,
            "conversation_id": message.conversation_id,
            "status": message.status,
            "previous_status": previous,
            "error_code": message.error_code,
        },
    )


def _schedule_send(message: Message) -> None:
    from channels_inbox.tasks_mail import message_send as message_send_task

    message_id = message.pk
    transaction.on_commit(lambda: message_send_task.delay(message_id))


def _queue_outbound(
    *,
    conversation: Conversation,
    channel: Channel,
    author_id: int | None,
    to: list[str],
    cc: list[str],
    subject: str,
    text: str,
    html: str,
    headers: dict[str, str],
    attachments: Iterable | None,
    flags: list[str] | None = None,
) -> Message:
    email = _is_email(channel)
    message_id = new_message_id(email_channel_for(channel)) if email else ""
    headers = dict(headers)
    if message_id:
        headers["Message-ID"] = message_id
    in_reply_to = headers.get("In-Reply-To", "")
    references = headers.get("References", "").split()
    now = timezone.now()
    message = Message.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        channel=channel,
        direction=MessageDirection.OUTBOUND,
        kind=InboxKind.EMAIL if email else channel.kind,
        status=MessageStatus.QUEUED,
        # Email: the Message-ID is the natural key, so our own mail seen again (a Bcc to the
        # mailbox, a bounce quoting it) dedupes; other providers give theirs when sending.
        external_id=message_id or None,
        from_address=(email_channel_for(channel) or channel).address if email else channel.address,
        to_addresses=to,
        cc_addresses=cc,
        subject=subject,
        text=text,
        html=html,
        headers=headers,
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        author_id=author_id,
        flags=flags or [],
        created_at=now,
        status_changed_at=now,
    )
    _store_attachments(message, attachments)
    _publish_created(message)
    _schedule_send(message)
    return message


# --- agents' writes -------------------------------------------------------------------------


@transaction.atomic
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
    sending after commit (`channels_inbox.tasks.message_send`). Publishes `message.created` and
    adds a timeline entry on the contact.

    `attachments` are uploaded files (or Attachment rows to send again). Raises PermissionDenied
    for someone who is not an agent of the tenant, ValidationError for an empty reply or a
    conversation with nobody to answer (no address known).
    """
    _check_actor(actor, conversation.tenant_id)
    # What the agent's editor sent is shown in the inbox: stored sanitised, like inbound mail.
    html = sanitize_html(html)
    if not text.strip() and html:
        text = html_to_text(html)
    if not text.strip() and not attachments:
        raise ValidationError({"text": [_("A reply needs some text or an attachment.")]})
    _check_uploads(attachments)
    cc = [address.strip() for address in (cc or []) if address.strip()]
    for address in cc:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                {"cc": [_("“%(address)s” is not an email address.") % {"address": address}]}
            ) from None
    channel = conversation.channel
    latest = _latest_from_customer(conversation)
    recipient = _recipient(conversation, latest)
    if not recipient:
        raise ValidationError(
            _(
                "There is no address to answer this conversation on: add the customer's email "
                "address to the contact, or answer by letter or phone."
            )
        )
    email = _is_email(channel)
    headers = _threading_headers(conversation, email_channel_for(channel), latest) if email else {}
    message = _queue_outbound(
        conversation=conversation,
        channel=channel,
        author_id=actor.user.pk if actor.user else None,
        to=[recipient],
        cc=cc if email else [],
        subject=reply_subject(conversation, subject) if email else "",
        text=text,
        html=html,
        headers=headers,
        attachments=attachments,
    )
    _touch_conversation(conversation, message, preview=True)
    timeline_add(
        tenant_id=conversation.tenant_id,
        contact=conversation.contact,
        kind="message.replied",
        summary=f"Reply ({channel.get_kind_display()}): {_preview(text) or message.subject}",
        actor=actor,
        ticket=conversation.ticket,
        data={"conversation_id": conversation.pk, "channel": channel.kind},
        ref_type=REF_TYPE,
        ref_id=message.pk,
    )
    return message


@transaction.atomic
def message_forward(
    *, message: Message, actor: Principal, to: list[str], text: str = ""
) -> Message:
    """Forward `message` (its text and attachments) by email to `to`, sent from the
    conversation's email channel (or its reply channel). Replies from the recipients thread
    back into the conversation (Reply-To carries its token). Not a first response."""
    conversation = message.conversation
    _check_actor(actor, conversation.tenant_id)
    recipients = [address.strip() for address in to if address.strip()]
    if not recipients:
        raise ValidationError({"to": [_("Say whom to forward the message to.")]})
    for address in recipients:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                {"to": [_("“%(address)s” is not an email address.") % {"address": address}]}
            ) from None
    carrier = email_channel_for(conversation.channel)
    if carrier is None:
        raise ValidationError(
            _("This conversation's channel has no email channel to forward through.")
        )
    original = message.subject or conversation.subject
    quoted = "\n".join(
        [
            text,
            "",
            "---------- Forwarded message ----------",
            f"From: {message.from_name} <{message.from_address}>".replace(" <>", ""),
            f"Date: {message.created_at:%Y-%m-%d %H:%M %Z}",
            f"Subject: {original}",
            "",
            message.text,
        ]
    ).strip()
    headers = {}
    address = reply_address(conversation, carrier)
    if address:
        headers["Reply-To"] = address
    if message.message_id:
        headers["References"] = _angle(message.message_id)
    forward = _queue_outbound(
        conversation=conversation,
        channel=carrier,
        author_id=actor.user.pk if actor.user else None,
        to=recipients,
        cc=[],
        subject=f"Fwd: {original} {ticket_marker(conversation)}".strip()[:500],
        text=quoted,
        html="",
        headers=headers,
        attachments=list(message.attachments.filter(is_inline=False)),
        flags=["forwarded"],
    )
    _touch_conversation(conversation, forward, preview=False)
    return forward


@transaction.atomic
def conversation_note_add(*, conversation: Conversation, actor: Principal, text: str) -> Message:
    """An internal note: never sent, visible to the tenant's staff. Publishes
    `message.created` (direction `note`) and adds a timeline entry on the contact."""
    _check_actor(actor, conversation.tenant_id)
    if not text.strip():
        raise ValidationError({"text": [_("A note needs some text.")]})
    note = Message.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        channel=conversation.channel,
        direction=MessageDirection.NOTE,
        kind=conversation.channel.kind,
        # A note is never sent: it is born in its final state and no task ever sees it.
        status=MessageStatus.RECEIVED,
        text=text,
        author_id=actor.user.pk if actor.user else None,
    )
    _touch_conversation(conversation, note, preview=False)
    _publish_created(note)
    timeline_add(
        tenant_id=conversation.tenant_id,
        contact=conversation.contact,
        kind="message.note",
        summary=f"Internal note: {_preview(text)}",
        actor=actor,
        ticket=conversation.ticket,
        data={"conversation_id": conversation.pk},
        ref_type=REF_TYPE,
        ref_id=note.pk,
    )
    return note


@transaction.atomic
def message_auto_reply(
    *, conversation: Conversation, text: str, subject: str = "", html: str = ""
) -> Message | None:
    """An automatic message from the system (web form confirmation, survey link): sent on the
    conversation's channel (a web form's through its reply channel) with
    `Auto-Submitted: auto-replied`; never in answer to an auto-reply, a bounce or an
    unparseable message, and never to one of our own channel addresses (returns None then)."""
    html = sanitize_html(html)
    latest = _latest_inbound(conversation)
    if latest is not None and NO_AUTO_REPLY_FLAGS.intersection(latest.flags or []):
        logger.info("no auto-reply in conversation %s: %s", conversation.pk, latest.flags)
        return None
    channel = conversation.channel
    recipient = _recipient(conversation, latest)
    if not recipient:
        return None
    email = _is_email(channel)
    carrier = email_channel_for(channel)
    if email:
        if carrier is None:
            return None
        own = set(
            Channel.objects.filter(tenant_id=conversation.tenant_id, kind=InboxKind.EMAIL)
            .exclude(address="")
            .values_list("address", flat=True)
        )
        local = recipient.partition("@")[0].lower()
        if recipient.lower() in {address.lower() for address in own} or local in {
            "mailer-daemon",
            "postmaster",
        }:
            return None
        headers = _threading_headers(conversation, carrier, latest)
        # RFC 3834; the Microsoft header keeps Exchange from answering our answer.
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
    else:
        headers = {}
    message = _queue_outbound(
        conversation=conversation,
        channel=channel,
        author_id=None,
        to=[recipient],
        cc=[],
        subject=reply_subject(conversation, subject) if email else "",
        text=text,
        html=html,
        headers=headers,
        attachments=None,
        flags=["auto_reply"],
    )
    _touch_conversation(conversation, message, preview=True)
    return message


@transaction.atomic
def message_retry(*, message: Message, actor: Principal) -> Message:
    """Queue a failed outbound message again (same Message-ID) and schedule its sending."""
    _check_actor(actor, message.tenant_id)
    if message.direction != MessageDirection.OUTBOUND:
        raise ValidationError(_("Only outbound messages are sent."))
    updated = Message.objects.filter(pk=message.pk, status=MessageStatus.FAILED).update(
        status=MessageStatus.QUEUED,
        error_code="",
        error_message="",
        status_changed_at=timezone.now(),
    )
    if not updated:
        raise ValidationError(_("Only a failed message can be sent again."))
    message.refresh_from_db()
    _publish_status(message, MessageStatus.FAILED)
    _schedule_send(message)
    return message


# --- sending (the Celery task's body) and provider callbacks -----------------------------


def _outbound_for(message: Message) -> OutboundMessage:
    headers = dict(message.headers or {})
    return OutboundMessage(
        channel=message.channel,
        message=message,
        to=list(message.to_addresses or []),
        cc=list(message.cc_addresses or []),
        subject=message.subject,
        text=message.text,
        html=message.html,
        attachments=list(message.attachments.all()),
        headers=headers,
    )


def _set_status(
    message: Message, status: str, *, expect: str, error_code: str = "", error_message: str = ""
) -> bool:
    """Move `message` from `expect` to `status` (conditional UPDATE); publish when it moved."""
    now = timezone.now()
    changes = {"status": status, "status_changed_at": now}
    if error_code or error_message or status == MessageStatus.FAILED:
        changes["error_code"] = error_code[:40]
        changes["error_message"] = error_message[:500]
    updated = Message.objects.filter(pk=message.pk, status=expect).update(**changes)
    if updated:
        for name, value in changes.items():
            setattr(message, name, value)
        _publish_status(message, expect)
    return bool(updated)


def message_send(*, message_id: int, final_attempt: bool = False) -> Message:
    """Send a queued message through its channel's provider; idempotent (a message already
    handed to the provider is not sent twice).

    Claims the message (queued → sending, a conditional UPDATE) before the provider is called:
    a message not in `queued` is returned untouched. On success: `sent` (or the provider's later
    status), `external_id` and `sent_at` stored, the ticket's first response recorded (replies
    by agents). A permanent provider failure → `failed` with the reason. A transient one
    releases the claim and raises `SendLater`, unless `final_attempt` (the task's last retry),
    which fails the message with the reason. Runs in autocommit: each step commits on its own,
    so a crash after the provider accepted can at worst leave a message in `sending`, never
    send it twice.
    """
    message = Message.objects.select_related(
        "channel", "channel__reply_channel", "conversation", "conversation__ticket"
    ).get(pk=message_id)
    if message.direction != MessageDirection.OUTBOUND:
        return message
    if not _set_status(message, MessageStatus.SENDING, expect=MessageStatus.QUEUED):
        logger.info("message %s is %s, not queued: not sending", message.pk, message.status)
        message.refresh_from_db()
        return message
    try:
        result = sender_for(message.channel).send(_outbound_for(message))
    except SendError as exc:
        reason = str(exc) or exc.__class__.__name__
        if exc.permanent or final_attempt:
            _set_status(
                message,
                MessageStatus.FAILED,
                expect=MessageStatus.SENDING,
                error_code=exc.code or ("permanent" if exc.permanent else "retries_exhausted"),
                error_message=reason,
            )
            return message
        # Our own claim is released so the retry can take it again (the one step back).
        _set_status(
            message,
            MessageStatus.QUEUED,
            expect=MessageStatus.SENDING,
            error_code=exc.code or "transient",
            error_message=reason,
        )
        raise SendLater(reason, code=exc.code) from exc
    except Exception as exc:
        # A bug or an unexpected provider answer: fail visibly rather than leave it "sending".
        logger.exception("sending message %s failed unexpectedly", message.pk)
        _set_status(
            message,
            MessageStatus.FAILED,
            expect=MessageStatus.SENDING,
            error_code="error",
            error_message=_("Unexpected error while sending: %(error)s") % {"error": exc},
        )
        return message
    sent_at = timezone.now()
    flags = message.flags or []
    status = result.status
    if STATUS_RANK.get(status, -1) <= STATUS_RANK[MessageStatus.SENDING]:
        status = MessageStatus.SENDING  # accepted, not yet sent: a callback moves it on
    with transaction.atomic():
        Message.objects.filter(pk=message.pk).update(
            external_id=result.external_id or message.external_id,
            sent_at=sent_at,
            error_code="",
            error_message="",
        )
        message.external_id = result.external_id or message.external_id
        message.sent_at = sent_at
        if status != MessageStatus.SENDING:
            _set_status(message, status, expect=MessageStatus.SENDING)
        ticket = message.conversation.ticket
        # An agent's answer to the customer; forwards and automatic mail are not responses.
        if ticket is not None and message.author_id is not None and "forwarded" not in flags:
            ticket_record_first_response(ticket=ticket, at=sent_at)
    return message


def messages_fail_stuck(*, older_than: timedelta | None = None) -> int:
    """Fail messages left in `sending` by a worker that died while talking to the provider.

    Whether such a message reached the customer is unknown, so it is never resent on its own
    (that could send twice); it fails with a reason saying so, and an agent can check and
    retry (`message_retry`). Messages a provider accepted (`sent_at` set, waiting for a
    status callback) are not stuck. Returns how many were failed.
    """
    older_than = older_than or timedelta(
        minutes=int(getattr(settings, "INBOX_SENDING_STUCK_MINUTES", 15))
    )
    cutoff = timezone.now() - older_than
    stuck = Message.objects.filter(
        direction=MessageDirection.OUTBOUND,
        status=MessageStatus.SENDING,
        sent_at__isnull=True,
        status_changed_at__lt=cutoff,
    )
    failed = 0
    for message in stuck:
        with transaction.atomic():
            failed += _set_status(
                message,
                MessageStatus.FAILED,
                expect=MessageStatus.SENDING,
                error_code="interrupted",
                error_message=_(
                    "Sending was interrupted; the message may or may not have reached the "
                    "customer. Check with them before sending it again."
                ),
            )
    return failed


# Provider words that are not our statuses.
PROVIDER_STATUS = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "undelivered": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}


@transaction.atomic
def message_status_update(
    *,
    channel: Channel,
    external_id: str,
    status: str,
    error_code: str = "",
    error_message: str = "",
) -> Message | None:
    """A provider's status callback for one of `channel`'s outbound messages: never moves a
    message backwards (STATUS_RANK); an unknown id → None (recorded by the caller, ignored).
    Provider words are mapped (`undelivered` → failed); an unknown status is ignored."""
    status = PROVIDER_STATUS.get(status, status)
    if status not in STATUS_RANK:
        logger.warning("unknown message status %r for %s on %s", status, external_id, channel)
        return None
    message = (
        Message.objects.select_for_update()
        .filter(channel=channel, external_id=external_id, direction=MessageDirection.OUTBOUND)
        .first()
    )
    if message is None:
        return None
    if STATUS_RANK[status] <= STATUS_RANK.get(message.status, 0):
        return message
    _set_status(
        message,
        status,
        expect=message.status,
        error_code=error_code if status == MessageStatus.FAILED else "",
        error_message=error_message if status == MessageStatus.FAILED else "",
    )
    return message
