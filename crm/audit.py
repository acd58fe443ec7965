"""The audit trail: who changed or viewed what on contacts, tickets and configuration.

Services call `audit_record()` for their writes and for reads of personal data. Configuration
edited in the admin is recorded by `crm.admin_base.TenantScopedAdmin`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from crm.models import AuditEntry
from crm.tenancy import Principal


def audit_record(
    *,
    actor: Principal | None,
    action: str,
    obj: Model,
    changes: dict[str, Any] | None = None,
    tenant_id: int | None = None,
) -> AuditEntry:
    user = actor.user if actor is not None else None
    return AuditEntry.objects.create(
        tenant_id=tenant_id if tenant_id is not None else getattr(obj, "tenant_id", None),
        actor=user,
        actor_label=actor.label if actor is not None else "system",
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=_jsonable(changes or {}),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Model):
        return value.pk
    return str(value)
