"""The admin side of the one tenant-scoping mechanism (`crm.tenancy`).

Every CRM admin screen derives from `TenantScopedAdmin` (inlines from `TenantScopedInline`), so
the manager's screens obey the same rule as the API and the selectors:

* changelists and object pages show only rows of the tenants the staff user may see (a staff
  superuser sees all); another tenant's object page answers 404, never its data;
* foreign-key and many-to-many choices offer only rows of those tenants, and a `tenant` field
  offers only tenants where the user is a manager; a form that links rows of two tenants is
  refused with a field error;
* managers change configuration in their tenants; lower roles read, where a screen allows it
  (`view_role`); nobody writes through a `read_only` screen;
* every add, change and delete made through the admin is written to the audit trail.

Staff access: Django lets only `is_staff` users into `/admin/`. A tenant manager therefore needs
`is_staff=True` (the demo data sets it on its managers); what they then see and may change comes
from their memberships, not from Django's model permissions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from crm.audit import audit_record
from crm.models import AuditEntry, Membership, Role, Tenant, User
from crm.tenancy import ROLE_RANK, Principal, principal_for_user, scope

# Never written to the audit trail, even as "changed": secrets and their hashes.
AUDIT_EXCLUDED_FIELDS = frozenset({"password", "password1", "password2", "hashed_key"})


def principal_with_role(request: HttpRequest, minimum: str) -> Principal:
    """The request user's principal, narrowed to the tenants where they hold `minimum` or more."""
    principal = principal_for_user(request.user)
    if principal.is_superuser:
        return principal
    roles = {
        tenant_id: role
        for tenant_id, role in principal.roles.items()
        if ROLE_RANK[Role(role)] >= ROLE_RANK[Role(minimum)]
    }
    return Principal(user=principal.user, roles=roles)


def users_visible_to(principal: Principal) -> QuerySet[User]:
    """Users serving at least one of the principal's tenants (all users for a superuser)."""
    ids = principal.tenant_ids()
    if ids is None:
        return User.objects.all()
    # A subquery rather than a join, so a user serving two tenants appears once.
    members = Membership.objects.filter(tenant_id__in=ids).values("user_id")
    return User.objects.filter(pk__in=members)


def related_choices(model: type[Model], request: HttpRequest) -> QuerySet | None:
    """The rows of `model` a form may link to for this request, or None for "no tenant rule"."""
    if model is Tenant:
        # Rows are placed only in tenants the user manages.
        return scope(Tenant.objects.all(), principal_with_role(request, Role.MANAGER))
    if model is User:
        return users_visible_to(principal_for_user(request.user))
    if _is_tenant_owned(model):
        return scope(model._default_manager.all(), principal_for_user(request.user))
    return None


def _is_tenant_owned(model: type[Model]) -> bool:
    try:
        field = model._meta.get_field("tenant")
    except Exception:
        return False
    return isinstance(field, models.ForeignKey) and field.related_model is Tenant


def tenant_id_via(obj: Model | None, path: str | None) -> int | None:
    """Follow `path` (`"tenant"`, `"schedule__tenant"`; None for a Tenant itself) to a tenant id."""
    if obj is None:
        return None
    if path is None:
        return obj.pk if isinstance(obj, Tenant) else None
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)


def _plain(value: Any) -> Any:
    """A form value as the audit trail stores it: rows by primary key."""
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, QuerySet):
        return sorted(value.values_list("pk", flat=True))
    if isinstance(value, list | tuple | set) and value and isinstance(next(iter(value)), Model):
        return sorted(v.pk for v in value)
    return value


def form_changes(form: forms.ModelForm, *, everything: bool = False) -> dict[str, Any]:
    """`{field: new value}` for the fields the form changed (all filled fields if `everything`)."""
    names: Iterable[str] = form.cleaned_data if everything else form.changed_data
    return {
        name: _plain(form.cleaned_data.get(name))
        for name in names
        if name not in AUDIT_EXCLUDED_FIELDS and name in form.cleaned_data
    }


class TenantConsistentForm(forms.ModelForm):
    """Refuses to link rows of another tenant than the one the edited row belongs to.

    The tenant is the form's own `tenant` value, the instance's tenant, or — for inline rows —
    the parent's tenant (`parent_tenant_id`).
    """

    def __init__(
        self, *args: Any, parent_tenant: Callable[[], int | None] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._parent_tenant = parent_tenant

    @property
    def parent_tenant_id(self) -> int | None:
        """For inline rows: the parent's tenant, read when asked, because Django builds the
        inline forms before it has validated (and so filled in) a new parent."""
        return self._parent_tenant() if self._parent_tenant is not None else None

    def _own_tenant_id(self) -> int | None:
        tenant = self.cleaned_data.get("tenant")
        if isinstance(tenant, Tenant):
            return tenant.pk
        if self.parent_tenant_id is not None:
            return self.parent_tenant_id
        return getattr(self.instance, "tenant_id", None)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        tenant_id = self._own_tenant_id()
        if tenant_id is None:
            return cleaned
        for name, value in list(cleaned.items()):
            rows = value if isinstance(value, QuerySet | list | tuple) else [value]
            for row in rows:
                if isinstance(row, Model) and not isinstance(row, Tenant | User):
                    row_tenant = getattr(row, "tenant_id", None)
                    if row_tenant is not None and row_tenant != tenant_id:
                        self.add_error(name, f"“{row}” belongs to another tenant.")
                        break
        return cleaned


class ScopedChoicesMixin:
    """Foreign-key and many-to-many choices limited by `related_choices` (admin screens and
    inlines alike)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            choices = related_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            choices = related_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TenantScopedAdmin(ScopedChoicesMixin, admin.ModelAdmin):
    """Base of every CRM admin screen; see the module docstring for the rules it enforces.

    Class attributes a screen sets:
      tenant_field -- path from the model to its tenant; None on the Tenant screen itself.
      view_role    -- least role that may read the screen (supervisors by default).
      change_role  -- least role that may add, change and delete (managers).
      read_only    -- nobody writes here (logs, merges, offers): view only.
    """

    form = TenantConsistentForm
    tenant_field: str | None = "tenant"
    view_role: str = Role.SUPERVISOR
    change_role: str = Role.MANAGER
    read_only: bool = False
    list_per_page = 50
    show_full_result_count = False  # saves a COUNT(*) over the whole table on every page

    # --- scoping -------------------------------------------------------------------------

    def tenant_id_of(self, obj: Model | None) -> int | None:
        return tenant_id_via(obj, self.tenant_field)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        principal = principal_with_role(request, self.view_role)
        if self.tenant_field is None:
            return scope(queryset, principal)
        return scope(queryset, principal, field=self.tenant_field)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        # Django would redirect to the index with "does not exist"; the project's rule for
        # another tenant's object (or one that never existed) is a plain 404.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        if self.tenant_field == "tenant" and "tenant" not in initial:
            managed = principal_with_role(request, self.change_role).tenant_ids()
            if managed is not None and len(managed) == 1:
                initial["tenant"] = next(iter(managed))
        return initial

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        kwargs["form_kwargs"] = {"parent_tenant": lambda: self.tenant_id_of(obj)}
        return kwargs

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and self.tenant_field == "tenant" and "tenant" not in readonly:
            # A row never moves to another tenant: its links and history belong to this one.
            readonly += ("tenant",)
        return readonly

    def writable(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        """`queryset` narrowed to rows the user may change (for bulk actions)."""
        principal = principal_with_role(request, self.change_role)
        if self.tenant_field is None:
            return scope(queryset, principal)
        return scope(queryset, principal, field=self.tenant_field)

    # --- permissions ---------------------------------------------------------------------

    def _may(self, request: HttpRequest, minimum: str, obj: Model | None) -> bool:
        principal = principal_for_user(request.user)
        if not request.user.is_staff:
            return False
        if obj is None:
            return principal.is_superuser or any(
                principal.has_role(tenant_id, minimum) for tenant_id in principal.roles
            )
        tenant_id = self.tenant_id_of(obj)
        if tenant_id is None:
            # Rows outside any tenant (global audit entries, users without a membership).
            return principal.is_superuser
        return principal.has_role(tenant_id, minimum)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may(request, self.view_role, None)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, self.view_role, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not self.read_only and self._may(request, self.change_role, None)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.read_only and self._may(request, self.change_role, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not self.read_only and self._may(request, self.change_role, obj)

    # --- audit trail ---------------------------------------------------------------------

    def audit(
        self, request: HttpRequest, action: str, obj: Model, changes: dict[str, Any]
    ) -> AuditEntry:
        tenant_id = self.tenant_id_of(obj)
        if isinstance(obj, Tenant) and action == AuditEntry.Action.DELETE:
            # The entry would be deleted along with the tenant it points at.
            tenant_id = None
        return audit_record(
            actor=principal_for_user(request.user),
            action=action,
            obj=obj,
            changes=changes,
            tenant_id=tenant_id,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self.audit_saved(request, obj, form, change)

    def audit_saved(self, request, obj, form, change) -> None:
        """Record a saved form; screens that save through a service call this themselves."""
        if change and not form.changed_data:
            return
        action = AuditEntry.Action.UPDATE if change else AuditEntry.Action.CREATE
        self.audit(request, action, obj, form_changes(form, everything=not change))

    def delete_model(self, request, obj):
        self.audit(request, AuditEntry.Action.DELETE, obj, {})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The changelist shows rows the user may only read; bulk actions touch the rest.
        queryset = self.writable(request, queryset)
        for obj in queryset:
            self.audit(request, AuditEntry.Action.DELETE, obj, {})
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        """Save inline rows: they inherit the parent's tenant, and each write is audited."""
        parent_tenant_id = self.tenant_id_of(form.instance)
        instances = formset.save(commit=False)
        for deleted in formset.deleted_objects:
            self.delete_inline_instance(request, deleted, tenant_id=parent_tenant_id)
        changed = {id(obj): fields for obj, fields in formset.changed_objects}
        forms_by_instance = {id(f.instance): f for f in formset.forms if hasattr(f, "cleaned_data")}
        for instance in instances:
            if _is_tenant_owned(type(instance)) and not instance.tenant_id:
                instance.tenant_id = parent_tenant_id
            is_new = instance.pk is None or instance._state.adding
            audited = self.save_inline_instance(request, instance, form.instance, is_new=is_new)
            inline_form = forms_by_instance.get(id(instance))
            if audited or inline_form is None:
                continue
            if is_new:
                changes = form_changes(inline_form, everything=True)
            else:
                changes = {
                    name: _plain(inline_form.cleaned_data.get(name))
                    for name in changed.get(id(instance), [])
                    if name not in AUDIT_EXCLUDED_FIELDS
                }
            changes.pop("id", None)
            action = AuditEntry.Action.CREATE if is_new else AuditEntry.Action.UPDATE
            self.audit_inline(request, action, instance, changes, parent_tenant_id)
        formset.save_m2m()

    def save_inline_instance(
        self, request: HttpRequest, instance: Model, parent: Model, *, is_new: bool
    ) -> bool:
        """Save one inline row. Screens whose inline rows are written through a service override
        this and return True when the service recorded the audit entry itself."""
        instance.save()
        return False

    def delete_inline_instance(
        self, request: HttpRequest, instance: Model, *, tenant_id: int | None
    ) -> None:
        """Delete one inline row and audit it (overridden where a service does both)."""
        self.audit_inline(request, AuditEntry.Action.DELETE, instance, {}, tenant_id)
        instance.delete()

    def audit_inline(self, request, action, instance, changes, tenant_id) -> None:
        audit_record(
            actor=principal_for_user(request.user),
            action=action,
            obj=instance,
            changes=changes,
            tenant_id=tenant_id,
        )


class ReadOnlyAdmin(TenantScopedAdmin):
    """Logs and records written only by services: visible, never edited by hand."""

    read_only = True


class TenantScopedInline(ScopedChoicesMixin):
    """Mixin for inlines: choices scoped like the parent screen, permissions follow the parent's
    tenant (the `obj` Django passes to inline permission checks is the parent object)."""

    form = TenantConsistentForm
    exclude = ("tenant",)
    extra = 0
    # Path from the parent object to its tenant (None when the parent is a Tenant).
    parent_tenant_field: str | None = "tenant"
    change_role: str = Role.MANAGER
    view_role: str = Role.SUPERVISOR
    read_only: bool = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if _is_tenant_owned(self.model):
            return scope(queryset, principal_with_role(request, self.view_role))
        return queryset

    def _may(self, request: HttpRequest, minimum: str, obj: Model | None) -> bool:
        principal = principal_for_user(request.user)
        if principal.is_superuser:
            return True
        if obj is None:
            return any(principal.has_role(tenant_id, minimum) for tenant_id in principal.roles)
        tenant_id = tenant_id_via(obj, self.parent_tenant_field)
        if tenant_id is None:
            # A parent being added: its tenant choices are already limited to managed tenants.
            return any(principal.has_role(t, minimum) for t in principal.roles)
        return principal.has_role(tenant_id, minimum)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._may(request, self.view_role, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return not self.read_only and self._may(request, self.change_role, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return not self.read_only and self._may(request, self.change_role, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self.read_only and self._may(request, self.change_role, obj)


class TabularInline(TenantScopedInline, admin.TabularInline):
    pass


class StackedInline(TenantScopedInline, admin.StackedInline):
    pass
