"""The manager's inbox screens: channels (per kind), canned responses, and read-mostly
conversations and messages, with a list of flagged messages for supervisors.

All scoped per tenant and audited through `crm.admin_base.TenantScopedAdmin`. Secrets (mailbox
passwords, Meta page tokens) are write-only here: never listed, never shown back in a form,
never written to the audit trail.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Model
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from channels_inbox.models import (
    Attachment,
    CannedResponse,
    Channel,
    Conversation,
    InboxKind,
    Message,
)
from crm.admin_base import (
    ReadOnlyAdmin,
    TabularInline,
    TenantConsistentForm,
    TenantScopedAdmin,
)
from crm.models import AuditEntry, Role

TENANT_FILTER = ("tenant", admin.RelatedOnlyFieldListFilter)
SECRET_FIELDS = ("imap_password", "smtp_password", "meta_access_token")

# The inbound URLs a provider must be given, per channel kind ({token}: the channel's token).
HOOK_PATHS: dict[str, list[tuple[str, str]]] = {
    InboxKind.EMAIL: [(_("Raw MIME hook (MTA pipe / forwarding)"), "/hooks/email/{token}/")],
    InboxKind.SMS: [
        (_("Twilio Messaging webhook"), "/hooks/twilio/messaging/"),
        (_("Twilio status callback"), "/hooks/twilio/messaging/status/"),
    ],
    InboxKind.WHATSAPP: [
        (_("Twilio Messaging webhook"), "/hooks/twilio/messaging/"),
        (_("Twilio status callback"), "/hooks/twilio/messaging/status/"),
    ],
    InboxKind.MESSENGER: [(_("Meta webhook (callback URL)"), "/hooks/meta/")],
    InboxKind.INSTAGRAM: [(_("Meta webhook (callback URL)"), "/hooks/meta/")],
    InboxKind.FAX: [(_("Fax provider webhook"), "/hooks/fax/{token}/")],
    InboxKind.WEBFORM: [(_("Public form (link or iframe)"), "/forms/{token}/")],
    InboxKind.POST: [],
}

# Which settings each kind uses; the change form shows only those (the kind is chosen first).
KIND_FIELDSETS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    InboxKind.EMAIL: [
        (
            _("Incoming mail (IMAP)"),
            (
                "imap_host",
                "imap_port",
                "imap_ssl",
                "imap_username",
                "imap_password",
                "imap_folder",
            ),
        ),
        (
            _("Outgoing mail (SMTP)"),
            ("smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password"),
        ),
        (_("Fax-to-email"), ("fax_gateway_senders",)),
    ],
    InboxKind.MESSENGER: [(_("Meta page"), ("meta_access_token",))],
    InboxKind.INSTAGRAM: [(_("Meta account"), ("meta_access_token",))],
    InboxKind.WEBFORM: [(_("Confirmation by email"), ("reply_channel",))],
}
COMMON_FIELDS = ("tenant", "kind", "name", "address", "queue", "is_active")
ROUTING_FIELDS = ("auto_ticket", "reopen_window_hours", "max_message_bytes")


class ChannelForm(TenantConsistentForm):
    """Secrets are typed, never shown back; leaving one empty keeps the stored value."""

    class Meta:
        model = Channel
        fields = "__all__"
        widgets = {name: forms.PasswordInput(render_value=False) for name in SECRET_FIELDS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            field = self.fields.get(name)
            if field is not None and self.instance.pk and getattr(self.instance, name):
                field.help_text = _("Stored. Leave empty to keep it; type a new one to replace.")

    def _keep_secret(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        if not value and self.instance.pk:
            return getattr(self.instance, name)
        return value

    def clean_imap_password(self) -> str:
        return self._keep_secret("imap_password")

    def clean_smtp_password(self) -> str:
        return self._keep_secret("smtp_password")

    def clean_meta_access_token(self) -> str:
        return self._keep_secret("meta_access_token")


@admin.register(Channel)
class ChannelAdmin(TenantScopedAdmin):
    form = ChannelForm
    list_display = ("name", "kind", "address", "tenant", "queue", "is_active")
    list_select_related = ("tenant", "queue")
    list_filter = (TENANT_FILTER, "kind", "is_active")
    search_fields = ("name", "address")
    readonly_fields = ("hook_urls", "created_at")

    def get_fieldsets(self, request: HttpRequest, obj: Channel | None = None):
        kind = obj.kind if obj is not None else request.GET.get("kind", "")
        fieldsets: list[tuple[Any, dict]] = [(None, {"fields": COMMON_FIELDS})]
        if obj is not None:
            fieldsets.append(
                (_("Provider setup"), {"fields": ("hook_urls",), "classes": ("wide",)})
            )
        kinds = [kind] if kind in KIND_FIELDSETS else []
        if not kind:
            kinds = list(KIND_FIELDSETS)  # a new channel of a kind not chosen yet: show all
        seen: set[str] = set()
        for each in kinds:
            for title, fields in KIND_FIELDSETS[each]:
                fresh = tuple(f for f in fields if f not in seen)
                seen.update(fresh)
                if fresh:
                    fieldsets.append((title, {"fields": fresh}))
        fieldsets.append((_("Routing and limits"), {"fields": ROUTING_FIELDS}))
        return fieldsets

    @admin.display(description=_("URLs to give the provider"))
    def hook_urls(self, obj: Channel) -> str:
        rows = [
            (label, path.format(token=obj.token)) for label, path in HOOK_PATHS.get(obj.kind, [])
        ]
        if not rows:
            return _("Nothing to configure: messages are entered by agents.")
        request = getattr(self, "_request", None)
        return format_html_join(
            "",
            '<div class="hook-url"><strong>{}</strong><br>'
            '<input type="text" readonly size="80" value="{}" onclick="this.select()"></div>',
            (
                (label, request.build_absolute_uri(path) if request is not None else path)
                for label, path in rows
            ),
        )

    def get_form(self, request: HttpRequest, obj: Model | None = None, **kwargs: Any):
        self._request = request  # read by hook_urls to print absolute URLs
        return super().get_form(request, obj, **kwargs)

    def audit(
        self, request: HttpRequest, action: str, obj: Model, changes: dict[str, Any]
    ) -> AuditEntry:
        # A secret's new value must not end up in the audit trail; that it changed may.
        masked = {k: ("(changed)" if k in SECRET_FIELDS else v) for k, v in changes.items()}
        return super().audit(request, action, obj, masked)


@admin.register(CannedResponse)
class CannedResponseAdmin(TenantScopedAdmin):
    list_display = ("title", "shortcut", "tenant")
    list_select_related = ("tenant",)
    list_filter = (TENANT_FILTER,)
    search_fields = ("title", "shortcut", "body")
    # Supervisors keep the team's saved replies up to date.
    change_role = Role.SUPERVISOR


class MessageInline(TabularInline):
    model = Message
    fields = ("created_at", "direction", "status", "from_address", "subject", "text", "flags")
    readonly_fields = fields
    read_only = True
    can_delete = False
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).defer("raw", "html", "headers")


@admin.register(Conversation)
class ConversationAdmin(TenantScopedAdmin):
    """Read-mostly: supervisors may change status, assignee and queue here in an emergency;
    agents do it in the workspace (through the services)."""

    list_display = (
        "__str__",
        "channel",
        "contact",
        "status",
        "assignee",
        "queue",
        "message_count",
        "last_message_at",
    )
    list_select_related = ("channel", "contact", "assignee", "queue")
    list_filter = (TENANT_FILTER, "status", "channel__kind")
    search_fields = ("subject", "contact__first_name", "contact__last_name")
    date_hierarchy = "last_message_at"
    readonly_fields = (
        "tenant",
        "channel",
        "contact",
        "ticket",
        "queue",
        "assignee",
        "status",
        "subject",
        "thread_key",
        "message_count",
        "unread_count",
        "last_message_at",
        "last_inbound_at",
        "created_at",
        "resolved_at",
    )
    inlines = [MessageInline]
    read_only = True


class FlaggedFilter(admin.SimpleListFilter):
    """Messages the ingest flagged (unparsed, refused attachments, bounces, auto-replies):
    what supervisors review. Linked from the changelist as `?flagged=yes`."""

    title = _("flagged")
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", _("Flagged")), ("no", _("Not flagged"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(flags=[])
        if self.value() == "no":
            return queryset.filter(flags=[])
        return queryset


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    """Read-only. Supervisors open `?flagged=yes` for the messages that need a human."""

    list_display = (
        "created_at",
        "direction",
        "kind",
        "status",
        "from_address",
        "subject",
        "conversation",
        "flag_list",
        "problem_list",
    )
    list_select_related = ("conversation",)
    list_filter = (FlaggedFilter, TENANT_FILTER, "direction", "kind", "status")
    search_fields = ("from_address", "subject", "message_id", "external_id")
    exclude = ("raw",)

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).defer("raw")

    @admin.display(description=_("Flags"))
    def flag_list(self, obj: Message) -> str:
        return ", ".join(obj.flags) if isinstance(obj.flags, list) else ""

    @admin.display(description=_("Problems"))
    def problem_list(self, obj: Message) -> str:
        if not obj.problems:
            return ""
        return format_html_join("", "<div>{}</div>", ((p,) for p in obj.problems))


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    # Provider media URLs are https; also silences Django 5's "default scheme" warning.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("filename", "content_type", "size", "message", "tenant")
    list_select_related = ("message", "tenant")
    list_filter = (TENANT_FILTER,)
    search_fields = ("filename",)
