"""The manager's telephony screens: numbers, IVR menus, and read-only call records.

All scoped per tenant and audited through `crm.admin_base.TenantScopedAdmin`.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from crm.admin_base import ReadOnlyAdmin, TabularInline, TenantScopedAdmin
from telephony.models import (
    Call,
    CallEvent,
    ConferenceParticipant,
    DispositionCode,
    IvrMenu,
    IvrOption,
    PhoneNumber,
    QueueVoiceSettings,
    Recording,
    Voicemail,
)

TENANT_FILTER = ("tenant", admin.RelatedOnlyFieldListFilter)
# Provider and audio URLs are https; also silences Django 5's "default scheme" warning.
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


@admin.register(PhoneNumber)
class PhoneNumberAdmin(TenantScopedAdmin):
    formfield_overrides = URL_FIELDS
    list_display = (
        "number",
        "name",
        "tenant",
        "entry_menu",
        "entry_queue",
        "is_outbound_caller_id",
    )
    list_select_related = ("tenant", "entry_menu", "entry_queue")
    list_filter = (TENANT_FILTER, "is_outbound_caller_id")
    search_fields = ("number", "name")


class IvrOptionInline(TabularInline):
    model = IvrOption
    fk_name = "menu"
    fields = ("digit", "speech_keyword", "action", "target_menu", "target_queue", "target_number")


@admin.register(IvrMenu)
class IvrMenuAdmin(TenantScopedAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ("name", "tenant", "language", "timeout_seconds", "max_retries")
    list_select_related = ("tenant",)
    list_filter = (TENANT_FILTER,)
    search_fields = ("name",)
    inlines = [IvrOptionInline]


class CallEventInline(TabularInline):
    model = CallEvent
    fields = ("received_at", "kind", "key", "payload")
    readonly_fields = fields
    read_only = True
    can_delete = False


class ConferenceParticipantInline(TabularInline):
    """Who was in the call's conference bridge (docs/decisions/003-conference-monitoring.md)."""

    model = ConferenceParticipant
    fields = ("role", "agent", "user", "joined_at", "left_at", "muted", "held", "coaching")
    readonly_fields = fields
    read_only = True
    can_delete = False


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    formfield_overrides = URL_FIELDS
    list_display = (
        "started_at",
        "from_number",
        "to_number",
        "tenant",
        "status",
        "outcome",
        "queue",
        "agent",
        "wait_seconds",
        "talk_seconds",
    )
    list_select_related = ("tenant", "queue", "agent__user")
    list_filter = (TENANT_FILTER, "status", "outcome", "abandoned")
    search_fields = ("sid", "from_number", "to_number")
    date_hierarchy = "started_at"
    inlines = [ConferenceParticipantInline, CallEventInline]


@admin.register(DispositionCode)
class DispositionCodeAdmin(TenantScopedAdmin):
    """The outcomes agents pick at wrap-up, per tenant."""

    list_display = ("label", "code", "tenant", "is_active", "sort_order")
    list_select_related = ("tenant",)
    list_filter = (TENANT_FILTER, "is_active")
    search_fields = ("code", "label")


@admin.register(Voicemail)
class VoicemailAdmin(ReadOnlyAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ("created_at", "call", "tenant", "contact", "duration_seconds")
    list_select_related = ("tenant", "call", "contact")
    list_filter = (TENANT_FILTER,)
    search_fields = ("recording_sid", "transcription")


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ("created_at", "recording_sid", "call", "tenant", "status", "duration_seconds")
    list_select_related = ("tenant", "call")
    list_filter = (TENANT_FILTER, "status")
    search_fields = ("recording_sid",)


@admin.register(QueueVoiceSettings)
class QueueVoiceSettingsAdmin(TenantScopedAdmin):
    """Per queue: recording policy, the callback offer, and what max wait leads to."""

    list_display = ("queue", "tenant", "recording_policy", "callback_enabled", "max_wait_action")
    list_select_related = ("tenant", "queue")
    list_filter = (TENANT_FILTER, "callback_enabled", "max_wait_action")
