"""The base every tenant-data endpoint builds on.

`TenantScopedViewSet.get_queryset()` passes `base_queryset()` through `crm.tenancy.scope()` for
the requesting principal, so another tenant's rows are simply absent: lists never show them and
fetching, changing or acting on one answers 404. Writes that create a row take the tenant from
the request body's `tenant` (slug or id) via `tenant_for_write()`.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from rest_framework import exceptions, viewsets

from crm.api.permissions import TenantRolePermission
from crm.api.throttling import AnonRateThrottle, PrincipalRateThrottle
from crm.models import Role, Tenant
from crm.tenancy import Principal, principal_for_request, scope


def tenant_for_write(principal: Principal, value: str | int | None, *, minimum_role: str) -> Tenant:
    """The tenant a new row goes to.

    `value` is the body's `tenant` (a slug or an id). Without it, the principal's only tenant is
    used (an API key, or a user with one membership). A tenant the principal cannot see is
    reported exactly like one that does not exist (400), so ids of other tenants leak nothing;
    a visible tenant where the principal's role is below `minimum_role` answers 403.
    """
    visible = scope(Tenant.objects.all(), principal)
    if value in (None, ""):
        ids = principal.tenant_ids()
        if ids is None or len(ids) != 1:
            raise exceptions.ValidationError(
                {"tenant": [_("Say which tenant this belongs to (its slug or id).")]}
            )
        (only,) = ids
        tenant = visible.filter(pk=only).first()
    else:
        text = str(value).strip()
        lookup = {"pk": int(text)} if text.isdigit() else {"slug": text}
        tenant = visible.filter(**lookup).first()
    if tenant is None:
        raise exceptions.ValidationError({"tenant": [_("Unknown tenant.")]})
    if not principal.has_role(tenant.pk, minimum_role):
        raise exceptions.PermissionDenied(_("Your role in this tenant does not allow this."))
    return tenant


class TenantScopedViewSet(viewsets.GenericViewSet):
    """A viewset whose rows are limited to the tenants the caller may see.

    Subclasses set `queryset` (or override `base_queryset()`) with the joins and prefetches
    their serializer needs, so a list costs the same number of queries whatever its length.
    `tenant_field` is the path from the model to its tenant; `write_role` the least role that
    may change rows (viewers only ever read), `write_roles` a stricter one per action;
    `read_roles` the least role per read-only action that needs more than seeing the tenant.
    """

    permission_classes = [TenantRolePermission]
    throttle_classes = [AnonRateThrottle, PrincipalRateThrottle]
    tenant_field = "tenant"
    write_role = Role.AGENT
    write_roles: dict[str, str] = {}
    read_roles: dict[str, str] = {}

    @property
    def principal(self) -> Principal:
        return principal_for_request(self.request)

    def base_queryset(self) -> QuerySet:
        return super().get_queryset()

    def get_queryset(self) -> QuerySet:
        return scope(self.base_queryset(), self.principal, field=self.tenant_field)

    def get_serializer_class(self):
        # A separate update serializer keeps the tenant (and other fixed links) read-only.
        update_class = getattr(self, "update_serializer_class", None)
        if update_class is not None and self.action in ("update", "partial_update"):
            return update_class
        return super().get_serializer_class()

    def get_write_role(self) -> str:
        return self.write_roles.get(self.action, self.write_role)

    def get_read_role(self) -> str:
        return self.read_roles.get(self.action, Role.VIEWER)

    def tenant_for_write(self, value: str | int | None) -> Tenant:
        return tenant_for_write(self.principal, value, minimum_role=self.get_write_role())
