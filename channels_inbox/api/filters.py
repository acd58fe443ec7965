"""Query-string filters of the inbox API lists (ids as plain numbers; see crm.api.filters)."""

from __future__ import annotations

import django_filters as filters

from channels_inbox.models import Conversation, ConversationStatus, InboxKind
from crm.api.filters import IdFilter


class ConversationFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ConversationStatus.choices)
    channel = IdFilter(field_name="channel_id")
    channel_kind = filters.MultipleChoiceFilter(
        field_name="channel__kind", choices=InboxKind.choices
    )
    assignee = IdFilter(field_name="assignee_id")
    unassigned = filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")
    queue = IdFilter(field_name="queue_id")
    contact = IdFilter(field_name="contact_id")
    updated_since = filters.IsoDateTimeFilter(
        field_name="last_message_at", lookup_expr="gte", help_text="Active at or after this time."
    )

    class Meta:
        model = Conversation
        fields = [
            "status",
            "channel",
            "channel_kind",
            "assignee",
            "unassigned",
            "queue",
            "contact",
            "updated_since",
        ]
