"""Role checks for the API. Tenant scoping itself happens in `TenantScopedViewSet`."""

from __future__ import annotations

from rest_framework import permissions

from crm.models import Role
from crm.tenancy import principal_for_request


class TenantRolePermission(permissions.BasePermission):
    """Authenticated, and at least `view.write_role` (default agent) for writes; viewers read."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        principal = principal_for_request(request)
        if principal.user is None and principal.api_key is None:
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        minimum = getattr(view, "write_role", Role.AGENT)
        if principal.is_superuser:
            return True
        return any(principal.has_role(t, minimum) for t in principal.roles)

    def has_object_permission(self, request, view, obj) -> bool:
        principal = principal_for_request(request)
        tenant_id = getattr(obj, "tenant_id", None)
        if tenant_id is None:
            return principal.is_superuser
        if request.method in permissions.SAFE_METHODS:
            return principal.can_see(tenant_id)
        return principal.has_role(tenant_id, getattr(view, "write_role", Role.AGENT))
