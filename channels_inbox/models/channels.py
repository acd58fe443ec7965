"""Inbox channels: where messages come from and go out, one row per configured address."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models import ChannelKind, Queue, TenantOwned


def new_token() -> str:
    """An unguessable token for hook URLs, web form links and reply addresses."""
    return secrets.token_urlsafe(18)


class InboxKind(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Facebook Messenger")
    INSTAGRAM = "instagram", _("Instagram")
    FAX = "fax", _("Fax")
    WEBFORM = "webform", _("Web form")
    POST = "post", _("Post")


# How a conversation on each kind of channel occupies an agent (crm's capacity per kind).
ROUTING_KIND: dict[str, str] = {
    InboxKind.EMAIL: ChannelKind.EMAIL,
    InboxKind.SMS: ChannelKind.CHAT,
    InboxKind.WHATSAPP: ChannelKind.CHAT,
    InboxKind.MESSENGER: ChannelKind.CHAT,
    InboxKind.INSTAGRAM: ChannelKind.CHAT,
    InboxKind.FAX: ChannelKind.EMAIL,
    InboxKind.WEBFORM: ChannelKind.EMAIL,
    InboxKind.POST: ChannelKind.EMAIL,
}


class SmtpSecurity(models.TextChoices):
    NONE = "none", _("None")
    STARTTLS = "starttls", _("STARTTLS")
    SSL = "ssl", _("SSL/TLS")


class Channel(TenantOwned):
    """One way customers reach a tenant, routed to a queue.

    `address` is the channel's own address in its channel's terms: an email address, an E.164
    number (SMS), `whatsapp:+E164`, a Facebook page id, an Instagram account id, a fax number.
    `token` names the channel in public URLs (`/hooks/email/<token>/`, `/hooks/fax/<token>/`,
    `/forms/<token>/`); it is a secret, rotated by replacing it.
    Credentials for the channel's own provider account live here because each tenant brings
    its own mailbox or page; install-wide secrets (Twilio, Meta app) come from the environment.
    """

    kind = models.CharField(max_length=16, choices=InboxKind.choices)
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=254, blank=True)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="channels")
    token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    is_active = models.BooleanField(default=True)
    auto_ticket = models.BooleanField(
        default=True, help_text=_("Open a ticket for each new conversation.")
    )
    reopen_window_hours = models.PositiveIntegerField(
        default=72,
        help_text=_(
            "SMS/WhatsApp: a message within this many hours of the last one continues the "
            "conversation, even when it was resolved."
        ),
    )
    max_message_bytes = models.PositiveIntegerField(
        default=25 * 1024 * 1024, help_text=_("Larger inbound messages are refused.")
    )
    # Email (IMAP in, SMTP out).
    imap_host = models.CharField(max_length=200, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_ssl = models.BooleanField(default=True)
    imap_username = models.CharField(max_length=200, blank=True)
    imap_password = models.CharField(max_length=200, blank=True)
    imap_folder = models.CharField(max_length=200, default="INBOX")
    smtp_host = models.CharField(max_length=200, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_security = models.CharField(
        max_length=10, choices=SmtpSecurity.choices, default=SmtpSecurity.STARTTLS
    )
    smtp_username = models.CharField(max_length=200, blank=True)
    smtp_password = models.CharField(max_length=200, blank=True)
    # Email: senders whose mail is a fax delivered by a fax gateway (one address per line).
    fax_gateway_senders = models.TextField(blank=True)
    # Meta (Messenger/Instagram): the page access token used by the Send API.
    meta_access_token = models.CharField(max_length=400, blank=True)
    # Web form: the email channel that sends the confirmation (and carries the replies).
    reply_channel = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant_id", "name"]
        indexes = [models.Index(fields=["kind", "address"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def routing_kind(self) -> str:
        return ROUTING_KIND[self.kind]


class MailboxState(models.Model):
    """Where IMAP polling of a channel's mailbox stands. A UIDVALIDITY change restarts it."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="mailbox")
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.channel} @ {self.uidvalidity}/{self.last_uid}"
