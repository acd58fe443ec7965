"""Messages people hand us directly rather than through a provider: web form submissions and
scanned letters (post). Both end in `message_receive`, like every other inbound message."""

from __future__ import annotations

import datetime as dt
import mimetypes
import os
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from channels_inbox.inbound import InboundAttachment, InboundMessage
from channels_inbox.models import Channel, InboxKind
from channels_inbox.services.receive import Received, message_receive
from channels_inbox.services.replies import message_auto_reply
from crm.identities import normalize_identity
from crm.models import Contact, IdentityKind, Role
from crm.selectors.contacts import contact_by_email, contact_by_phone
from crm.services.contacts import contact_create, identity_add
from crm.tenancy import Principal

PREVIEW_CHARS = 80


def _split_name(name: str) -> tuple[str, str]:
    first, _sep, last = name.strip().partition(" ")
    return first[:100], last.strip()[:100]


def _upload(upload) -> InboundAttachment | None:
    if upload is None:
        return None
    filename = os.path.basename(upload.name) or "upload"
    content_type = (
        getattr(upload, "content_type", "")
        or mimetypes.guess_type(filename)[0]
        or "application/octet-stream"
    )
    return InboundAttachment(filename=filename, content_type=content_type, content=upload.read())


# --- web form -------------------------------------------------------------------------------


def _confirmation(*, name: str, subject: str, message: str, ticket_number: int | None):
    lines = [
        _("Dear %(name)s,") % {"name": name},
        "",
        _("Thank you for your message. We have received it and will answer as soon as we can."),
    ]
    if ticket_number:
        lines += ["", _("Your reference: #%(number)s") % {"number": ticket_number}]
    quoted = "\n".join(f"> {line}" for line in message.splitlines())
    lines += ["", _("Your message:"), quoted]
    title = _("We have received your message")
    return (f"{title}: {subject}" if subject else title), "\n".join(lines)


def webform_submit(
    *,
    channel: Channel,
    nonce: str,
    name: str,
    email: str,
    message: str,
    phone: str = "",
    subject: str = "",
    attachment=None,
    client_address: str = "",
) -> Received:
    """A visitor's submission of `channel`'s public form: opens (or continues) a conversation
    through `message_receive` and, for a new message, confirms by email (`message_auto_reply`,
    sent through the channel's reply channel). `nonce` comes from the signed form token: the
    same page sent twice is one message (`created=False`) and one confirmation."""
    if channel.kind != InboxKind.WEBFORM or not channel.is_active:
        raise ValidationError(_("This form is closed."))
    files = [item for item in [_upload(attachment)] if item is not None]
    headers = {"client_address": client_address} if client_address else {}
    if phone:
        headers["phone"] = phone
    inbound = InboundMessage(
        channel=channel,
        external_id=f"webform-{nonce}",
        from_address=email.strip().lower(),
        from_name=name.strip(),
        to=[channel.address] if channel.address else [],
        subject=subject.strip() or message.strip().splitlines()[0][:PREVIEW_CHARS],
        text=message,
        attachments=files,
        headers=headers,
        sent_at=timezone.now(),
        kind=InboxKind.WEBFORM,
    )
    with transaction.atomic():
        received = message_receive(inbound=inbound)
        if received.created:
            ticket = received.conversation.ticket
            with translation.override(channel.tenant.language or settings.LANGUAGE_CODE):
                title, text = _confirmation(
                    name=name.strip(),
                    subject=subject.strip(),
                    message=message,
                    ticket_number=ticket.number if ticket is not None else None,
                )
            message_auto_reply(conversation=received.conversation, subject=title, text=text)
    return received


# --- post -----------------------------------------------------------------------------------


def post_channels_for(principal: Principal):
    """The active post channels of the tenants where `principal` is at least an agent."""
    queryset = Channel.objects.filter(kind=InboxKind.POST, is_active=True).select_related("tenant")
    if principal.is_superuser:
        return queryset.order_by("tenant__name", "name")
    tenant_ids = [tid for tid in principal.roles if principal.has_role(tid, Role.AGENT)]
    return queryset.filter(tenant_id__in=tenant_ids).order_by("tenant__name", "name")


def _sender_contact(
    *,
    channel: Channel,
    actor: Principal,
    contact: Contact | None,
    name: str,
    email: str,
    phone: str,
) -> Contact:
    """The chosen contact (given the sender's email/phone when new to it), the contact those
    belong to, or a new one."""
    tenant = channel.tenant
    if contact is not None:
        if contact.tenant_id != channel.tenant_id:
            raise ValidationError({"contact": [_("No such contact.")]})
        for kind, value, finder in (
            (IdentityKind.EMAIL, email, contact_by_email),
            (IdentityKind.PHONE, phone, contact_by_phone),
        ):
            if not value:
                continue
            key = "email" if kind == IdentityKind.EMAIL else "phone"
            try:
                owner = (
                    finder(tenant_id=tenant.pk, email=value)
                    if kind == IdentityKind.EMAIL
                    else finder(tenant_id=tenant.pk, phone=value)
                )
            except ValidationError as exc:
                raise ValidationError({key: exc.messages}) from exc
            if owner is None:
                identity_add(contact=contact, kind=kind, value=value, actor=actor)
            elif owner.pk != contact.pk:
                raise ValidationError(
                    {key: [_("This belongs to another contact: %(name)s.") % {"name": owner}]}
                )
        return contact
    found = None
    if email:
        found = contact_by_email(tenant_id=tenant.pk, email=email)
    if found is None and phone:
        found = contact_by_phone(tenant_id=tenant.pk, phone=phone)
    if found is not None:
        return found
    first, last = _split_name(name)
    try:
        return contact_create(
            tenant=tenant,
            actor=actor,
            first_name=first,
            last_name=last,
            emails=[email] if email else [],
            phones=[phone] if phone else [],
        )
    except ValidationError as exc:
        # contact_create keys errors "emails"/"phones"; the form's fields are singular.
        if hasattr(exc, "error_dict"):
            renamed = {
                {"emails": "email", "phones": "phone"}.get(key, key): value
                for key, value in exc.message_dict.items()
            }
            raise ValidationError(renamed) from exc
        raise


def _from_address(contact: Contact, email: str, phone: str) -> str:
    """The address `message_receive` finds the contact by: the email or phone the agent typed
    (already the contact's identities), else the contact's primary email, else phone."""
    region = contact.tenant.default_region
    if email:
        return normalize_identity(IdentityKind.EMAIL, email, region=region)
    if phone:
        return normalize_identity(IdentityKind.PHONE, phone, region=region)
    rows = contact.identities.filter(kind__in=[IdentityKind.EMAIL, IdentityKind.PHONE])
    # Reversed, so that the first (primary) identity of each kind wins in the dict.
    known = dict(list(rows.order_by("-is_primary", "id").values_list("kind", "value"))[::-1])
    return known.get(IdentityKind.EMAIL) or known.get(IdentityKind.PHONE) or ""


def post_receive(
    *,
    channel: Channel,
    actor: Principal,
    scan,
    sender_name: str,
    sender_address: str = "",
    email: str = "",
    phone: str = "",
    contact: Contact | None = None,
    subject: str = "",
    text: str = "",
    received_on: dt.date | None = None,
) -> Received:
    """File a scanned letter as an inbound message of kind `post` on the sender's contact: the
    chosen `contact` (the sender's email/phone are added to it when new), else the contact the
    email/phone belong to, else a new contact. `actor` must be an agent of the channel's tenant
    (PermissionDenied). Raises ValidationError keyed by form field for a contact of another
    tenant or an email/phone another contact holds; nothing is stored then."""
    if channel.kind != InboxKind.POST or not channel.is_active:
        raise ValidationError({"channel": [_("Choose an active post channel.")]})
    if not actor.has_role(channel.tenant_id, Role.AGENT):
        raise PermissionDenied(_("Only the tenant's agents file letters."))
    attachment = _upload(scan)
    if attachment is None:
        raise ValidationError({"scan": [_("Attach the scanned letter.")]})
    with transaction.atomic():
        sender = _sender_contact(
            channel=channel,
            actor=actor,
            contact=contact,
            name=sender_name,
            email=email,
            phone=phone,
        )
        headers = {"contact_id": str(sender.pk)}
        if sender_address:
            headers["postal_address"] = sender_address.strip()
        if received_on:
            headers["received_on"] = received_on.isoformat()
        inbound = InboundMessage(
            channel=channel,
            # A letter has no natural key: each filing is a message of its own.
            external_id=f"post-{uuid.uuid4().hex}",
            from_address=_from_address(sender, email, phone),
            from_name=sender_name.strip() or sender.display_name,
            subject=subject.strip() or _("Letter from %(name)s") % {"name": sender_name.strip()},
            text=text,
            attachments=[attachment],
            headers=headers,
            kind=InboxKind.POST,
            author_id=actor.user.pk if actor.user is not None else None,
        )
        return message_receive(inbound=inbound, contact=sender)
