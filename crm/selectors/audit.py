"""Reads of the audit trail: managers only."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from crm.models import AuditEntry, Role
from crm.tenancy import Principal

# Short names the API may pass for `object_type`.
OBJECT_TYPES = {"contact": "crm.contact", "ticket": "crm.ticket", "note": "crm.note"}


def audit_for(
    principal: Principal, *, object_type: str | None = None, object_id: str | int | None = None
) -> QuerySet[AuditEntry]:
    """Audit entries of the tenants where `principal` is a manager (superusers: all, including
    entries outside any tenant), newest first. Raises `PermissionDenied` for a principal who
    manages no tenant. `object_type` is a model label ("crm.contact") or a short name
    ("contact")."""
    queryset = AuditEntry.objects.select_related("actor")
    if not principal.is_superuser:
        managed = [t for t, role in principal.roles.items() if role == Role.MANAGER]
        if not managed:
            raise PermissionDenied("Only managers may read the audit trail.")
        queryset = queryset.filter(tenant_id__in=managed)
    if object_type:
        queryset = queryset.filter(object_type=OBJECT_TYPES.get(object_type, object_type))
    if object_id is not None:
        queryset = queryset.filter(object_id=str(object_id))
    return queryset.order_by("-at", "-id")
