"""API representations. Serializers shape and validate input; writes go through services.

Read serializers expect the joins and prefetches set up by their viewset (`select_related`
for foreign keys, `prefetch_related` for tags, identities and skills), so rendering a page does
not query per row.
"""

from __future__ import annotations

from rest_framework import serializers

from crm.api.fields import (
    ScopedPrimaryKeyRelatedField,
    ScopedUserField,
    TagNamesField,
    TenantField,
)
from crm.models import (
    AgentProfile,
    Contact,
    ContactIdentity,
    IdentityKind,
    Note,
    Organization,
    Presence,
    PresenceLog,
    Queue,
    Ticket,
    TicketPriority,
    TicketStatus,
    TimelineEntry,
    User,
)

# --- errors (documentation only: crm.api.errors builds the bodies) ---


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, for 400 responses.",
    )
    allowed = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="The statuses a ticket may move to, for 409 transition responses.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --- small shared shapes ---


class UserSummarySerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name"]

    def get_name(self, user: User) -> str:
        return user.get_full_name() or user.username


# --- organizations ---


class OrganizationSerializer(serializers.ModelSerializer):
    tenant = TenantField()

    class Meta:
        model = Organization
        fields = ["id", "tenant", "name", "domain", "notes", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class OrganizationUpdateSerializer(OrganizationSerializer):
    tenant = TenantField(read_only=True)


# --- queues and agents ---


class QueueSerializer(serializers.ModelSerializer):
    tenant = TenantField(read_only=True)
    channel_kinds = serializers.ListField(child=serializers.CharField(), read_only=True)
    required_skills = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    waiting_count = serializers.IntegerField(
        read_only=True, help_text="Work items waiting in the queue now."
    )

    class Meta:
        model = Queue
        fields = [
            "id",
            "tenant",
            "name",
            "channel_kinds",
            "required_skills",
            "priority",
            "business_hours",
            "max_wait_seconds",
            "overflow_queue",
            "waiting_count",
            "created_at",
        ]
        read_only_fields = fields


class AgentSkillSerializer(serializers.Serializer):
    name = serializers.CharField(source="skill.name")
    level = serializers.IntegerField()


class AgentSerializer(serializers.ModelSerializer):
    tenant = TenantField(read_only=True)
    user = UserSummarySerializer(read_only=True)
    skills = AgentSkillSerializer(source="agent_skills", many=True, read_only=True)
    queues = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    capacity = serializers.SerializerMethodField()

    class Meta:
        model = AgentProfile
        fields = [
            "id",
            "tenant",
            "user",
            "presence",
            "presence_reason",
            "presence_changed_at",
            "works_remotely",
            "skills",
            "queues",
            "capacity",
        ]
        read_only_fields = fields

    def get_capacity(self, agent: AgentProfile) -> dict[str, int]:
        from crm.models import ChannelKind

        return {kind.value: agent.capacity_for(kind) for kind in ChannelKind}


class PresenceChangeSerializer(serializers.Serializer):
    presence = serializers.ChoiceField(choices=Presence.choices)
    reason = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class PresenceLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = PresenceLog
        fields = ["id", "agent", "presence", "reason", "started_at", "ended_at"]
        read_only_fields = fields


# --- contacts ---


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactIdentity
        fields = ["id", "kind", "value", "label", "is_primary"]
        read_only_fields = fields


class HandleSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[c for c in IdentityKind.choices if c[0] not in ("phone", "email")]
    )
    value = serializers.CharField(max_length=254)


class ContactSerializer(serializers.ModelSerializer):
    """Read: identities nested. Write: `phones`, `emails` and `handles` lists (normalised and
    checked for duplicates by the contact services)."""

    tenant = TenantField()
    organization = ScopedPrimaryKeyRelatedField(
        queryset=Organization.objects.all(), required=False, allow_null=True
    )
    identities = IdentitySerializer(many=True, read_only=True)
    tags = TagNamesField(required=False)
    display_name = serializers.CharField(read_only=True)
    phones = serializers.ListField(
        child=serializers.CharField(max_length=40),
        write_only=True,
        required=False,
        help_text="Phone numbers, in E.164 or in the tenant's national format.",
    )
    emails = serializers.ListField(
        child=serializers.CharField(max_length=254), write_only=True, required=False
    )
    handles = HandleSerializer(many=True, write_only=True, required=False)

    class Meta:
        model = Contact
        fields = [
            "id",
            "tenant",
            "display_name",
            "first_name",
            "last_name",
            "organization",
            "language",
            "time_zone",
            "consent_marketing",
            "consent_calls",
            "consent_recording",
            "custom_attributes",
            "tags",
            "identities",
            "phones",
            "emails",
            "handles",
            "merged_into",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["merged_into", "created_at", "updated_at"]
        # Time zones are checked by the services too; the model validator gives a field error.
        extra_kwargs = {"custom_attributes": {"required": False}}


class ContactUpdateSerializer(ContactSerializer):
    """On update the contact stays with its tenant."""

    tenant = TenantField(read_only=True)


class ContactLookupSerializer(serializers.Serializer):
    phone = serializers.CharField(required=False, max_length=40)
    email = serializers.EmailField(required=False)

    def validate(self, attrs):
        if bool(attrs.get("phone")) == bool(attrs.get("email")):
            raise serializers.ValidationError("Give exactly one of `phone` or `email`.")
        return attrs


class ContactMergeRequestSerializer(serializers.Serializer):
    source = ScopedPrimaryKeyRelatedField(
        queryset=Contact.objects.all(),
        help_text="The contact merged into this one; it is kept, marked as merged.",
    )


class ContactMergeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.IntegerField(source="source_id")
    target = serializers.IntegerField(source="target_id")
    moved = serializers.DictField(child=serializers.IntegerField())
    merged_at = serializers.DateTimeField()


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = UserSummarySerializer(read_only=True)

    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "kind",
            "occurred_at",
            "summary",
            "actor",
            "ticket",
            "data",
            "ref_type",
            "ref_id",
        ]
        read_only_fields = fields


# --- tickets ---


class TicketSerializer(serializers.ModelSerializer):
    """`status` changes only through the transition endpoint, which enforces the allowed
    moves; everything else is written here."""

    tenant = TenantField()
    contact = ScopedPrimaryKeyRelatedField(
        queryset=Contact.objects.all(), required=False, allow_null=True
    )
    queue = ScopedPrimaryKeyRelatedField(
        queryset=Queue.objects.all(), required=False, allow_null=True
    )
    assignee = ScopedUserField(required=False, allow_null=True)
    priority = serializers.ChoiceField(
        choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    tags = TagNamesField(required=False)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "tenant",
            "number",
            "subject",
            "description",
            "status",
            "priority",
            "contact",
            "queue",
            "assignee",
            "tags",
            "due_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "number",
            "status",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "created_by",
            "created_at",
            "updated_at",
        ]


class TicketUpdateSerializer(TicketSerializer):
    """On update the ticket stays with its tenant and its contact."""

    tenant = TenantField(read_only=True)
    contact = serializers.PrimaryKeyRelatedField(read_only=True)


class TicketTransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TicketStatus.choices)


class NoteSerializer(serializers.ModelSerializer):
    author = UserSummarySerializer(read_only=True)

    class Meta:
        model = Note
        fields = ["id", "contact", "ticket", "author", "body", "created_at"]
        read_only_fields = ["contact", "ticket", "author", "created_at"]


# --- search ---


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=200, trim_whitespace=True)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class SearchResultSerializer(serializers.Serializer):
    query = serializers.CharField()
    contacts = ContactSerializer(many=True)
    organizations = OrganizationSerializer(many=True)
    tickets = TicketSerializer(many=True)
