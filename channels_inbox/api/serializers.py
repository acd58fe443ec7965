"""Inbox API shapes. Channel credentials (IMAP/SMTP passwords, Meta tokens) and hook tokens
are never part of any of them."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from channels_inbox.models import (
    Attachment,
    Channel,
    Conversation,
    ConversationStatus,
    InboxKind,
    Message,
    MessageDirection,
    MessageStatus,
)
from crm.api.fields import ScopedUserField
from crm.api.serializers import UserSummarySerializer


def _one_of(values: list[str], description: str) -> dict:
    # A pattern, not an `enum`: drf-spectacular turns every enum into a named component, and
    # ours would collide with crm's and telephony's `kind` and `status` enums (the schema check
    # fails on that warning, and the fix, ENUM_NAME_OVERRIDES, lives in shared settings).
    return {
        "type": "string",
        "pattern": "^(" + "|".join(values) + ")$",
        "description": f"{description} One of: {', '.join(values)}.",
    }


@extend_schema_field(_one_of(list(InboxKind.values), "The channel's kind."))
class InboxKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=InboxKind.choices, **kwargs)


@extend_schema_field(
    _one_of(list(ConversationStatus.values), "pending means waiting for the customer.")
)
class ConversationStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=ConversationStatus.choices, **kwargs)


@extend_schema_field(
    _one_of(
        list(MessageStatus.values),
        "received (inbound); queued → sending → sent → delivered → read, or failed (outbound).",
    )
)
class MessageStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=MessageStatus.choices, **kwargs)


@extend_schema_field(_one_of(list(MessageDirection.values), "note: internal, never sent."))
class MessageDirectionField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=MessageDirection.choices, **kwargs)


class ChannelSummarySerializer(serializers.ModelSerializer):
    kind = InboxKindField(read_only=True)

    class Meta:
        model = Channel
        fields = ["id", "kind", "name", "address"]


class ChannelSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    queue = serializers.PrimaryKeyRelatedField(read_only=True)
    kind = InboxKindField(read_only=True)

    class Meta:
        model = Channel
        # Deliberately an allow-list: passwords, tokens and the hook token stay out.
        fields = [
            "id",
            "tenant",
            "kind",
            "name",
            "address",
            "queue",
            "is_active",
            "auto_ticket",
            "reopen_window_hours",
            "max_message_bytes",
            "created_at",
        ]


class ContactSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class TicketSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    status = serializers.CharField()


class ConversationSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    channel = ChannelSummarySerializer(read_only=True)
    contact = ContactSummarySerializer(read_only=True)
    ticket = TicketSummarySerializer(read_only=True, allow_null=True)
    queue = serializers.PrimaryKeyRelatedField(read_only=True)
    assignee = UserSummarySerializer(read_only=True, allow_null=True)
    status = ConversationStatusField(read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "tenant",
            "channel",
            "contact",
            "ticket",
            "queue",
            "assignee",
            "status",
            "subject",
            "message_count",
            "unread_count",
            "last_message_at",
            "last_inbound_at",
            "last_message_preview",
            "created_at",
            "resolved_at",
        ]
        read_only_fields = fields


class ConversationAssignSerializer(serializers.Serializer):
    assignee = ScopedUserField(
        allow_null=True, help_text="The agent's user id; null to put it back in its queue."
    )


class ConversationStatusSerializer(serializers.Serializer):
    status = ConversationStatusField()


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "is_inline", "download_url"]

    @extend_schema_field(serializers.CharField())
    def get_download_url(self, attachment: Attachment) -> str:
        return reverse("inbox-attachment-download", args=[attachment.pk])


class MessageSerializer(serializers.ModelSerializer):
    author = UserSummarySerializer(read_only=True, allow_null=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    to = serializers.JSONField(source="to_addresses", read_only=True)
    cc = serializers.JSONField(source="cc_addresses", read_only=True)
    kind = InboxKindField(read_only=True)
    status = MessageStatusField(read_only=True)
    direction = MessageDirectionField(read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "direction",
            "kind",
            "status",
            "from_address",
            "from_name",
            "to",
            "cc",
            "subject",
            "text",
            "html",
            "flags",
            "problems",
            "author",
            "error_code",
            "error_message",
            "sent_at",
            "created_at",
            "attachments",
        ]
        read_only_fields = fields


class MessageCreateSerializer(serializers.Serializer):
    """A reply sent on the conversation's channel, or an internal note (never sent)."""

    type = serializers.ChoiceField(choices=[("reply", "reply"), ("note", "note")], default="reply")
    text = serializers.CharField(max_length=100_000, trim_whitespace=False)
    html = serializers.CharField(max_length=500_000, required=False, allow_blank=True, default="")
    subject = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    cc = serializers.ListField(child=serializers.EmailField(), required=False, default=list)

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Write something first.")
        return value

    def validate(self, attrs: dict) -> dict:
        if attrs["type"] == "note" and (attrs.get("cc") or attrs.get("subject")):
            raise serializers.ValidationError(
                {"type": ["A note is never sent: it takes no subject or cc."]}
            )
        return attrs
