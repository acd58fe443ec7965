"""The manager's screens for every CRM model.

All screens derive from `crm.admin_base.TenantScopedAdmin`: rows, choices and permissions are
scoped to the staff user's tenants, and every write is audited. Where a write has a service
(contacts, identities, tickets, notes, API keys) the screen goes through it, so the admin keeps
the same rules as the API: ticket numbers, normalised identities, allowed status transitions,
timeline entries and events.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, JsonResponse

from crm.admin_base import (
    ReadOnlyAdmin,
    StackedInline,
    TabularInline,
    TenantConsistentForm,
    TenantScopedAdmin,
    principal_with_role,
)
from crm.identities import normalize_identity
from crm.models import (
    AgentProfile,
    AgentSkill,
    ApiKey,
    AuditEntry,
    BusinessHours,
    BusinessHoursRule,
    Contact,
    ContactIdentity,
    ContactMerge,
    CustomAttributeDefinition,
    Holiday,
    Membership,
    Note,
    Offer,
    Organization,
    PresenceLog,
    Queue,
    Role,
    Skill,
    Tag,
    Team,
    Tenant,
    Ticket,
    TimelineEntry,
    User,
    WorkItem,
)
from crm.services.api_keys import api_key_create, api_key_revoke
from crm.services.contacts import (
    contact_create,
    contact_update,
    custom_attributes_validate,
    identity_add,
    identity_remove,
)
from crm.services.privacy import contact_export
from crm.services.tickets import (
    ALLOWED_TRANSITIONS,
    note_add,
    note_check_links,
    ticket_create,
    ticket_transition,
    ticket_update,
)
from crm.tenancy import principal_for_user

TENANT_FILTER = ("tenant", admin.RelatedOnlyFieldListFilter)


def _adopt(obj: Model, saved: Model) -> None:
    """Make the admin's unsaved `obj` the row a service just created, so the admin's redirect,
    messages and inline formsets refer to it."""
    obj.pk = saved.pk
    obj._state.adding = False
    obj._state.db = saved._state.db
    obj.refresh_from_db()


def _tenant_of_form(form: forms.ModelForm) -> Tenant | None:
    tenant = form.cleaned_data.get("tenant")
    if isinstance(tenant, Tenant):
        return tenant
    if getattr(form.instance, "tenant_id", None):
        return form.instance.tenant
    return None


# --- tenants, users, memberships, API keys -----------------------------------------------------


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_field = None
    list_display = ("name", "slug", "language", "time_zone", "default_region", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("last_ticket_number", "created_at")

    # Only a superuser creates or removes a client company; its managers configure it.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser


class MembershipInline(TabularInline):
    model = Membership
    exclude = ()
    fields = ("tenant", "role")
    parent_tenant_field = None  # the parent is a user, who has no tenant of their own

    def get_min_num(self, request, obj=None, **kwargs):
        # A user a manager creates must belong somewhere the manager can see, or it would
        # vanish from their list the moment it is saved.
        return 0 if request.user.is_superuser else 1


@admin.register(User)
class UserAdmin(TenantScopedAdmin, DjangoUserAdmin):
    """Users of the staff user's tenants. A manager may change a user only when every tenant
    that user serves is one they manage (and never a superuser), so no manager reaches into a
    tenant that is not theirs through a shared user."""

    form = UserChangeForm
    tenant_field = None
    inlines = (MembershipInline,)
    list_display = ("username", "first_name", "last_name", "email", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    superuser_only_fields = ("is_superuser", "groups", "user_permissions")

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        from crm.admin_base import users_visible_to

        queryset = admin.ModelAdmin.get_queryset(self, request)
        visible = users_visible_to(principal_with_role(request, self.view_role))
        return queryset.filter(pk__in=visible.values("pk"))

    def tenant_id_of(self, obj: Model | None) -> int | None:
        # Audit entries on a user go to the tenant they serve when there is exactly one.
        if obj is None or obj.pk is None:
            return None
        tenants = list(Membership.objects.filter(user=obj).values_list("tenant_id", flat=True))
        return tenants[0] if len(tenants) == 1 else None

    def _may(self, request: HttpRequest, minimum: str, obj: Model | None) -> bool:
        if obj is None or request.user.is_superuser:
            return super()._may(request, minimum, obj)
        principal = principal_for_user(request.user)
        tenants = set(Membership.objects.filter(user=obj).values_list("tenant_id", flat=True))
        if minimum == self.view_role:
            return any(principal.has_role(t, minimum) for t in tenants)
        return (
            bool(tenants)
            and not obj.is_superuser
            and all(principal.has_role(t, minimum) for t in tenants)
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += self.superuser_only_fields
        return tuple(f for f in readonly if f != "tenant")

    def writable(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if request.user.is_superuser:
            return queryset
        managed = principal_with_role(request, Role.MANAGER).tenant_ids() or set()
        elsewhere = Membership.objects.exclude(tenant_id__in=managed).values("user_id")
        return queryset.filter(is_superuser=False).exclude(pk__in=elsewhere)

    def user_change_password(self, request, id, form_url=""):
        # Django's "change password" page saves the form itself, past save_model; record it
        # here (that it changed, never the value).
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = self.get_object(request, id)
            self.audit(request, AuditEntry.Action.UPDATE, user, {"password": "changed"})
        return response


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role", TENANT_FILTER)
    list_select_related = ("user", "tenant")
    search_fields = ("user__username", "user__first_name", "user__last_name", "tenant__name")
    autocomplete_fields = ("user",)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    """Keys are issued through `api_key_create`; the plain key is shown once, in a message."""

    list_display = ("name", "prefix", "tenant", "role", "created_at", "last_used_at", "revoked_at")
    list_filter = ("role", TENANT_FILTER)
    list_select_related = ("tenant",)
    search_fields = ("name", "prefix")
    actions = ("revoke_keys",)
    readonly_fields = ("prefix", "created_by", "created_at", "last_used_at", "revoked_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("tenant", "name", "role")
        return ("tenant", "name", "prefix", "role", *self.readonly_fields[1:])

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # After issue only the name may change: a key's tenant and role are what it was
        # handed out with.
        return ("tenant", "role", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, plain = api_key_create(
            tenant=form.cleaned_data["tenant"],
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
            created_by=request.user,
        )
        _adopt(obj, api_key)
        self.audit_saved(request, obj, form, change)
        messages.warning(
            request,
            f"The new API key is {plain} — copy it now: it is stored only as a hash and is "
            "never shown again.",
        )

    @admin.action(description="Revoke the selected keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in self.writable(request, queryset).filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
            self.audit(
                request,
                AuditEntry.Action.UPDATE,
                api_key,
                {"revoked_at": api_key.revoked_at.isoformat()},
            )
            revoked += 1
        self.message_user(request, f"{revoked} key(s) revoked.")


# --- contacts ----------------------------------------------------------------------------------


@admin.register(Organization)
class OrganizationAdmin(TenantScopedAdmin):
    view_role = Role.VIEWER
    list_display = ("name", "domain", "tenant", "created_at")
    list_filter = (TENANT_FILTER,)
    list_select_related = ("tenant",)
    search_fields = ("name", "domain")
    date_hierarchy = "created_at"


class ContactForm(TenantConsistentForm):
    class Meta:
        model = Contact
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        tenant = _tenant_of_form(self)
        if tenant is not None and "custom_attributes" in cleaned:
            try:
                cleaned["custom_attributes"] = custom_attributes_validate(
                    tenant=tenant, values=cleaned["custom_attributes"]
                )
            except ValidationError as exc:
                messages_ = [f"{key}: {'; '.join(msgs)}" for key, msgs in exc.message_dict.items()]
                self.add_error("custom_attributes", messages_)
        return cleaned


class IdentityForm(TenantConsistentForm):
    """Normalises the value as the contact services do and refuses one another contact holds."""

    class Meta:
        model = ContactIdentity
        fields = ("kind", "value", "label", "is_primary")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind, value = cleaned.get("kind"), cleaned.get("value")
        tenant_id = self.parent_tenant_id
        if not kind or not value or tenant_id is None:
            return cleaned
        region = Tenant.objects.values_list("default_region", flat=True).get(pk=tenant_id)
        try:
            cleaned["value"] = normalize_identity(kind, value, region=region)
        except ValidationError as exc:
            self.add_error("value", exc.messages)
            return cleaned
        taken = (
            ContactIdentity.objects.filter(tenant_id=tenant_id, kind=kind, value=cleaned["value"])
            .exclude(pk=self.instance.pk)
            .select_related("contact")
            .first()
        )
        if taken is not None and taken.contact_id != self.instance.contact_id:
            self.add_error(
                "value", f"Already held by contact #{taken.contact_id} ({taken.contact})."
            )
        return cleaned


class IdentityFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[tuple[str, str]] = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("value"):
                continue
            key = (data["kind"], data["value"])
            if key in seen:
                raise ValidationError(f"{data['value']} is listed twice.")
            seen.add(key)


class ContactIdentityInline(TabularInline):
    model = ContactIdentity
    form = IdentityForm
    formset = IdentityFormSet
    fields = ("kind", "value", "label", "is_primary")
    view_role = Role.VIEWER


@admin.register(Contact)
class ContactAdmin(TenantScopedAdmin):
    """Contacts are created and changed through `crm.services.contacts` (which audits, adds to
    the timeline and publishes events); identities through `identity_add`/`identity_remove`."""

    form = ContactForm
    view_role = Role.VIEWER
    inlines = (ContactIdentityInline,)
    list_display = ("display_name", "identity_list", "organization", "language", "tenant")
    list_filter = (TENANT_FILTER, "language", "consent_marketing", "consent_calls")
    list_select_related = ("organization", "tenant")
    search_fields = ("first_name", "last_name", "identities__value", "organization__name")
    autocomplete_fields = ("organization", "merged_into")
    filter_horizontal = ("tags",)
    readonly_fields = ("merged_into", "erased_at", "created_at", "updated_at")
    date_hierarchy = "created_at"

    actions = ("export_json",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Contact]:
        return super().get_queryset(request).prefetch_related("identities")

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self._may(request, Role.MANAGER, None)

    @admin.action(
        description="Export everything held on the selected contacts (JSON)",
        permissions=["export"],
    )
    def export_json(self, request: HttpRequest, queryset: QuerySet[Contact]) -> HttpResponse:
        """A data-protection access request, answered as a download. Only contacts of tenants
        the user manages are exported; each export is audited by `contact_export`."""
        actor = principal_for_user(request.user)
        contacts = self.writable(request, queryset).select_related("tenant", "organization")
        data = [contact_export(contact=contact, actor=actor) for contact in contacts]
        response = JsonResponse(data, safe=False, json_dumps_params={"ensure_ascii": False})
        response["Content-Disposition"] = 'attachment; filename="contacts-export.json"'
        return response

    @admin.display(description="identities")
    def identity_list(self, contact: Contact) -> str:
        # Uses the prefetched rows: one query for the whole page.
        return ", ".join(i.value for i in contact.identities.all())

    def save_model(self, request, obj, form, change):
        actor = principal_for_user(request.user)
        data = form.cleaned_data
        if not change:
            contact = contact_create(
                tenant=data["tenant"],
                actor=actor,
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
                organization=data.get("organization"),
                language=data.get("language", ""),
                time_zone=data.get("time_zone", ""),
                custom_attributes=data.get("custom_attributes") or {},
                tags=list(data.get("tags") or []),
                consent_marketing=data.get("consent_marketing", False),
                consent_calls=data.get("consent_calls", True),
                consent_recording=data.get("consent_recording", True),
            )
            _adopt(obj, contact)
            return
        fields = {
            name: (list(data[name]) if name == "tags" else data[name])
            for name in form.changed_data
            if name in data
        }
        if fields:
            # A fresh row: the service compares against what is stored, not the form's copy.
            contact_update(contact=Contact.objects.get(pk=obj.pk), actor=actor, **fields)
            obj.refresh_from_db()

    def save_inline_instance(self, request, instance, parent, *, is_new):
        if not is_new:
            instance.save()
            return False
        identity_add(
            contact=parent,
            kind=instance.kind,
            value=instance.value,
            label=instance.label,
            is_primary=instance.is_primary,
            actor=principal_for_user(request.user),
        )
        return True

    def delete_inline_instance(self, request, instance, *, tenant_id):
        identity_remove(identity=instance, actor=principal_for_user(request.user))


@admin.register(Tag)
class TagAdmin(TenantScopedAdmin):
    list_display = ("name", "tenant")
    list_filter = (TENANT_FILTER,)
    list_select_related = ("tenant",)
    search_fields = ("name",)


@admin.register(CustomAttributeDefinition)
class CustomAttributeDefinitionAdmin(TenantScopedAdmin):
    list_display = ("key", "label", "type", "required", "tenant")
    list_filter = ("type", TENANT_FILTER)
    list_select_related = ("tenant",)
    search_fields = ("key", "label")


@admin.register(ContactMerge)
class ContactMergeAdmin(ReadOnlyAdmin):
    list_display = ("merged_at", "source", "target", "merged_by", "tenant")
    list_filter = (TENANT_FILTER,)
    list_select_related = ("source", "target", "merged_by", "tenant")
    search_fields = ("source__last_name", "target__last_name")
    date_hierarchy = "merged_at"


# --- tickets -----------------------------------------------------------------------------------


class TicketForm(TenantConsistentForm):
    class Meta:
        model = Ticket
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        tenant = _tenant_of_form(self)
        assignee = cleaned.get("assignee")
        if (
            tenant is not None
            and assignee is not None
            and not Membership.objects.filter(user=assignee, tenant=tenant).exists()
        ):
            self.add_error("assignee", f"{assignee} does not work for {tenant}.")
        status = cleaned.get("status")
        if self.instance.pk and status and "status" in self.changed_data:
            current = Ticket.objects.values_list("status", flat=True).get(pk=self.instance.pk)
            allowed = ALLOWED_TRANSITIONS.get(current, frozenset())
            if status != current and status not in allowed:
                listed = ", ".join(sorted(allowed)) or "nothing (it is final)"
                self.add_error("status", f"A {current} ticket can become: {listed}.")
        return cleaned


class NoteInline(StackedInline):
    """Notes are added (through `note_add`), never edited: they are a record."""

    model = Note
    fields = ("body", "author", "created_at")
    readonly_fields = ("author", "created_at")
    view_role = Role.VIEWER

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(TenantScopedAdmin):
    """Tickets go through `crm.services.tickets`: numbers, transitions, timeline, events."""

    form = TicketForm
    view_role = Role.VIEWER
    inlines = (NoteInline,)
    list_display = (
        "number",
        "subject",
        "status",
        "priority",
        "contact",
        "queue",
        "assignee",
        "tenant",
        "created_at",
    )
    list_display_links = ("number", "subject")
    list_filter = ("status", "priority", TENANT_FILTER, ("queue", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("contact", "queue", "assignee", "tenant")
    search_fields = ("subject", "contact__first_name", "contact__last_name")
    autocomplete_fields = ("contact", "queue", "assignee")
    filter_horizontal = ("tags",)
    readonly_fields = (
        "number",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "created_by",
        "created_at",
        "updated_at",
    )
    date_hierarchy = "created_at"

    def get_exclude(self, request, obj=None):
        # A new ticket always starts as "new"; afterwards the status moves by transitions.
        return ("status",) if obj is None else ()

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        # A ticket stays with the contact it was opened for (the services offer no move).
        return (*readonly, "contact") if obj is not None else readonly

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().lstrip("#")
        if term.isdigit():
            # `queryset` already carries the changelist's filters (status, tenant, ...); a
            # ticket found by its number must pass them too.
            found |= queryset.filter(number=int(term))
        return found, may_have_duplicates

    def save_model(self, request, obj, form, change):
        actor = principal_for_user(request.user)
        data = form.cleaned_data
        if not change:
            ticket = ticket_create(
                tenant=data["tenant"],
                actor=actor,
                subject=data["subject"],
                description=data.get("description", ""),
                priority=data.get("priority"),
                contact=data.get("contact"),
                queue=data.get("queue"),
                assignee=data.get("assignee"),
                tags=list(data.get("tags") or []),
                due_at=data.get("due_at"),
            )
            _adopt(obj, ticket)
            return
        stored = Ticket.objects.get(pk=obj.pk)
        fields = {
            name: (list(data[name]) if name == "tags" else data[name])
            for name in form.changed_data
            if name in data and name != "status"
        }
        if fields:
            stored = ticket_update(ticket=stored, actor=actor, **fields)
        if "status" in form.changed_data:
            ticket_transition(ticket=stored, status=data["status"], actor=actor)
        obj.refresh_from_db()

    def save_inline_instance(self, request, instance, parent, *, is_new):
        if not is_new:
            instance.save()
            return False
        note_add(actor=principal_for_user(request.user), body=instance.body, ticket=parent)
        return True


class NoteForm(TenantConsistentForm):
    class Meta:
        model = Note
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("contact") and not cleaned.get("ticket"):
            raise ValidationError("A note belongs to a contact, a ticket, or both.")
        if not self.errors:
            # The service's rule, checked here so that the page shows it next to the field.
            note_check_links(contact=cleaned.get("contact"), ticket=cleaned.get("ticket"))
        return cleaned


@admin.register(Note)
class NoteAdmin(TenantScopedAdmin):
    form = NoteForm
    view_role = Role.VIEWER
    list_display = ("excerpt", "contact", "ticket", "author", "tenant", "created_at")
    list_filter = (TENANT_FILTER,)
    list_select_related = ("contact", "ticket", "author", "tenant")
    search_fields = ("body",)
    autocomplete_fields = ("contact", "ticket")
    readonly_fields = ("author", "created_at")
    date_hierarchy = "created_at"

    @admin.display(description="note")
    def excerpt(self, note: Note) -> str:
        return note.body[:80]

    def has_change_permission(self, request, obj=None) -> bool:
        # Notes are a record: added through `note_add`, deleted by a manager, never rewritten.
        return False

    def save_model(self, request, obj, form, change):
        note = note_add(
            actor=principal_for_user(request.user),
            body=form.cleaned_data["body"],
            contact=form.cleaned_data.get("contact"),
            ticket=form.cleaned_data.get("ticket"),
        )
        _adopt(obj, note)


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdmin):
    view_role = Role.VIEWER
    list_display = ("occurred_at", "kind", "summary", "contact", "ticket", "actor", "tenant")
    list_filter = ("kind", TENANT_FILTER)
    list_select_related = ("contact", "ticket", "actor", "tenant")
    search_fields = ("summary", "contact__last_name")
    date_hierarchy = "occurred_at"


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    view_role = Role.MANAGER
    list_display = ("at", "actor_label", "action", "object_type", "object_id", "object_repr")
    list_filter = ("action", "object_type", TENANT_FILTER)
    list_select_related = ("tenant",)
    search_fields = ("object_repr", "actor_label", "=object_id")
    date_hierarchy = "at"


# --- agents, queues, routing -------------------------------------------------------------------


@admin.register(Skill)
class SkillAdmin(TenantScopedAdmin):
    list_display = ("name", "tenant")
    list_filter = (TENANT_FILTER,)
    list_select_related = ("tenant",)
    search_fields = ("name",)


@admin.register(Team)
class TeamAdmin(TenantScopedAdmin):
    list_display = ("name", "supervisor", "tenant")
    list_filter = (TENANT_FILTER,)
    list_select_related = ("supervisor", "tenant")
    search_fields = ("name",)
    autocomplete_fields = ("supervisor",)


@admin.register(Queue)
class QueueAdmin(TenantScopedAdmin):
    list_display = (
        "name",
        "channel_kinds",
        "skill_list",
        "priority",
        "business_hours",
        "max_wait_seconds",
        "overflow_queue",
        "tenant",
    )
    list_filter = (TENANT_FILTER,)
    list_select_related = ("business_hours", "overflow_queue", "tenant")
    search_fields = ("name",)
    filter_horizontal = ("required_skills",)
    autocomplete_fields = ("overflow_queue", "business_hours")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("required_skills")

    @admin.display(description="required skills")
    def skill_list(self, queue: Queue) -> str:
        return ", ".join(s.name for s in queue.required_skills.all())


class AgentSkillInline(TabularInline):
    model = AgentSkill
    fields = ("skill", "level")


@admin.register(AgentProfile)
class AgentProfileAdmin(TenantScopedAdmin):
    """Presence is shown, not edited: it changes through the presence services only."""

    inlines = (AgentSkillInline,)
    list_display = (
        "user",
        "presence",
        "presence_changed_at",
        "skill_list",
        "works_remotely",
        "tenant",
    )
    list_filter = ("presence", "works_remotely", TENANT_FILTER)
    list_select_related = ("user", "tenant")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user",)
    filter_horizontal = ("teams", "queues")
    readonly_fields = ("presence", "presence_reason", "presence_changed_at", "last_idle_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("agent_skills__skill")

    @admin.display(description="skills")
    def skill_list(self, agent: AgentProfile) -> str:
        return ", ".join(f"{s.skill.name} ({s.level})" for s in agent.agent_skills.all())


@admin.register(PresenceLog)
class PresenceLogAdmin(ReadOnlyAdmin):
    list_display = ("agent", "presence", "reason", "started_at", "ended_at", "tenant")
    list_filter = ("presence", TENANT_FILTER)
    list_select_related = ("agent__user", "tenant")
    search_fields = ("agent__user__username", "agent__user__last_name")
    date_hierarchy = "started_at"


class BusinessHoursRuleInline(TabularInline):
    model = BusinessHoursRule
    fields = ("weekday", "opens", "closes")


class HolidayInline(TabularInline):
    model = Holiday
    fields = ("date", "name")


@admin.register(BusinessHours)
class BusinessHoursAdmin(TenantScopedAdmin):
    inlines = (BusinessHoursRuleInline, HolidayInline)
    list_display = ("name", "time_zone", "tenant")
    list_filter = (TENANT_FILTER,)
    list_select_related = ("tenant",)
    search_fields = ("name",)


@admin.register(WorkItem)
class WorkItemAdmin(ReadOnlyAdmin):
    """Read-only: the routing engine owns a work item's state (offers, capacity held)."""

    list_display = (
        "id",
        "kind",
        "channel_kind",
        "status",
        "priority",
        "queue",
        "agent",
        "enqueued_at",
        "tenant",
    )
    list_filter = ("status", "kind", "channel_kind", TENANT_FILTER)
    list_select_related = ("queue", "agent__user", "tenant")
    search_fields = ("=ref_id", "ref_type")
    date_hierarchy = "enqueued_at"


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = ("work_item", "agent", "status", "offered_at", "expires_at", "tenant")
    list_filter = ("status", TENANT_FILTER)
    list_select_related = ("work_item", "agent__user", "tenant")
    date_hierarchy = "offered_at"
