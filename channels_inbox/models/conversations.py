"""Conversations, their messages and the messages' attachments."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels_inbox.models.channels import Channel, InboxKind, new_token
from crm.models import Contact, Queue, TenantOwned, Ticket


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Waiting for customer")
    RESOLVED = "resolved", _("Resolved")


class Conversation(TenantOwned):
    """A thread with one contact on one channel.

    `thread_key` says which thread the channel's own terms name: the customer's address for
    SMS/WhatsApp, the sender id (PSID/IGSID) for Messenger/Instagram; empty for email, which
    threads by headers and `reply_token` (`reply+<token>@…`).
    """

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="conversations")
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="conversations")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    status = models.CharField(
        max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    subject = models.CharField(max_length=300, blank=True)
    thread_key = models.CharField(max_length=254, blank=True)
    reply_token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    message_count = models.PositiveIntegerField(default=0)
    unread_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(default=timezone.now)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "status", "-last_message_at"]),
            models.Index(fields=["assignee", "status", "-last_message_at"]),
            models.Index(fields=["channel", "thread_key", "-last_message_at"]),
            models.Index(fields=["contact", "-last_message_at"]),
            # The agent's inbox (channels_inbox.selectors.inbox_for_agent): their open and
            # pending conversations, unread first, then newest; read in order, LIMIT-ed.
            models.Index(
                fields=["assignee", "-unread_count", "-last_message_at", "-id"],
                condition=models.Q(status__in=["open", "pending"]),
                name="conversation_agent_inbox",
            ),
            # The queue's unassigned list (selectors.unassigned_for), newest first.
            models.Index(
                fields=["tenant", "-last_message_at", "-id"],
                condition=models.Q(status__in=["open", "pending"], assignee__isnull=True),
                name="conversation_unassigned",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or f"Conversation #{self.pk}"


class MessageDirection(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")
    NOTE = "note", _("Internal note")


class MessageStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


# How far each status has got; a status callback never moves a message backwards.
STATUS_RANK = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.READ: 5,
    MessageStatus.FAILED: 6,
}


class Message(TenantOwned):
    """One inbound message, outbound reply or internal note in a conversation.

    `external_id` is the provider's natural key (email Message-ID or a digest of the message
    when it has none, Twilio MessageSid, Meta mid, fax id); unique per channel so a redelivery
    is ignored. `kind` is the channel kind it travelled on, or `post` for a scanned letter.
    `flags` lists what the ingest noticed (`auto_reply`, `bounce`, `unparsed`,
    `attachment_refused`, ...) and `problems` explains them in words for the people reading.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="messages")
    direction = models.CharField(max_length=10, choices=MessageDirection.choices)
    kind = models.CharField(max_length=16, choices=InboxKind.choices)
    status = models.CharField(
        max_length=12, choices=MessageStatus.choices, default=MessageStatus.RECEIVED
    )
    external_id = models.CharField(max_length=500, null=True, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    to_addresses = models.JSONField(default=list, blank=True)
    cc_addresses = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    text = models.TextField(blank=True)
    # Sanitised HTML (nh3), safe to render; the unsanitised original stays in `raw`.
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=500, blank=True, db_index=True)
    in_reply_to = models.CharField(max_length=500, blank=True)
    references = models.JSONField(default=list, blank=True)
    raw = models.BinaryField(null=True, blank=True, editable=False)
    flags = models.JSONField(default=list, blank=True)
    problems = models.JSONField(default=list, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="message_unique_external_id",
            )
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"]),
            models.Index(fields=["tenant", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind} #{self.pk}"


def attachment_path(instance: Attachment, filename: str) -> str:
    now = timezone.now()
    return f"inbox/{instance.tenant_id}/{now:%Y/%m}/{new_token()}/{filename}"


class Attachment(TenantOwned):
    """A file that came with (or goes out with) a message. `content_id` names an inline image
    (`cid:`); `source_url` is where a provider's media was fetched from."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=attachment_path, max_length=400, blank=True)
    content_id = models.CharField(max_length=255, blank=True)
    is_inline = models.BooleanField(default=False)
    source_url = models.URLField(max_length=1000, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class CannedResponse(TenantOwned):
    """A saved reply agents insert into the composer; `shortcut` is typed as `/shortcut`.
    Placeholders such as {contact.first_name} and {agent.first_name} are filled on insert."""

    title = models.CharField(max_length=100)
    shortcut = models.SlugField(max_length=40)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "shortcut"], name="canned_response_unique_shortcut"
            )
        ]

    def __str__(self) -> str:
        return self.title
