"""Role checks for the API. Tenant scoping itself happens in `TenantScopedViewSet`."""

from __future__ import annotations

from rest_framework import permissions

from crm.models import Role
from crm.tenancy import principal_for_request


def required_write_role(view) -> str:
    """The least role that may write through `view` (its `get_write_role()`, else its
    `write_role`, else agent)."""
    getter = getattr(view, "get_write_role", None)
    if getter is not None:
        return getter()
    return getattr(view, "write_role", Role.AGENT)


def required_read_role(view) -> str:
    """The least role that may read through `view` (its `get_read_role()`, else viewer)."""
    getter = getattr(view, "get_read_role", None)
    return getter() if getter is not None else Role.VIEWER


def required_role(request, view) -> str:
    if request.method in permissions.SAFE_METHODS:
        return required_read_role(view)
    return required_write_role(view)


class TenantRolePermission(permissions.BasePermission):
    """Authenticated (an API key or an active user), and at least the view's role for the
    request in the tenant concerned: for writes its write role (viewers only read), for reads
    its read role (everyone who sees the tenant, unless an action asks for more).

    Before the object is known, the role is needed in *some* tenant; once it is known, in the
    object's tenant. Creates check the target tenant in `tenant_for_write()`.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        principal = principal_for_request(request)
        if principal.user is None and principal.api_key is None:
            return False
        if principal.is_superuser:
            return True
        minimum = required_role(request, view)
        if minimum == Role.VIEWER:
            return True  # what is visible at all is decided by the tenant scope
        return any(principal.has_role(t, minimum) for t in principal.roles)

    def has_object_permission(self, request, view, obj) -> bool:
        principal = principal_for_request(request)
        tenant_id = getattr(obj, "tenant_id", None)
        if tenant_id is None:
            return principal.is_superuser
        return principal.has_role(tenant_id, required_role(request, view))
