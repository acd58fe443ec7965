"""Organizations: the companies contacts belong to. Reference data, audited like the rest."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from crm.audit import audit_record
from crm.models import Organization, Tenant
from crm.tenancy import Principal

EDITABLE_FIELDS = frozenset({"name", "domain", "notes"})


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    if "name" in fields and not str(fields["name"]).strip():
        raise ValidationError({"name": "An organization needs a name."})
    if "domain" in fields:
        fields["domain"] = str(fields["domain"]).strip().lower()
    return fields


@transaction.atomic
def organization_create(
    *, tenant: Tenant, actor: Principal | None, name: str, domain: str = "", notes: str = ""
) -> Organization:
    fields = _clean({"name": name, "domain": domain, "notes": notes})
    organization = Organization.objects.create(tenant=tenant, **fields)
    audit_record(actor=actor, action="create", obj=organization, changes=fields)
    return organization


@transaction.atomic
def organization_update(
    *, organization: Organization, actor: Principal | None, **fields: Any
) -> Organization:
    fields = _clean(fields)
    for key, value in fields.items():
        setattr(organization, key, value)
    organization.save(update_fields=[*fields, "updated_at"])
    audit_record(actor=actor, action="update", obj=organization, changes=fields)
    return organization


@transaction.atomic
def organization_delete(*, organization: Organization, actor: Principal | None) -> None:
    """Contacts of the organization are kept; their `organization` becomes empty."""
    audit_record(actor=actor, action="delete", obj=organization)
    organization.delete()
