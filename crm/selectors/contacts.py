"""Reads of contacts and organizations, scoped to what the principal may see."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.audit import audit_record
from crm.identities import normalize_email, normalize_phone
from crm.models import Contact, ContactIdentity, IdentityKind, Organization, Tenant
from crm.tenancy import Principal, scope


def contacts_for(principal: Principal, *, include_merged: bool = False) -> QuerySet[Contact]:
    """The contacts `principal` may see, with organization, identities and tags loaded (three
    queries for any page size). Contacts merged into another are left out unless asked for."""
    queryset = Contact.objects.select_related("organization").prefetch_related("identities", "tags")
    if not include_merged:
        queryset = queryset.filter(merged_into__isnull=True)
    return scope(queryset, principal)


def contact_get(*, principal: Principal, pk: int, audit: bool = True) -> Contact:
    """One contact the principal may see (merged ones too: their `merged_into` tells where the
    record went), else `Contact.DoesNotExist` — the API answers 404 for another tenant's id.
    The read is recorded in the audit trail as a "view" unless `audit=False`."""
    contact = contacts_for(principal, include_merged=True).get(pk=pk)
    if audit:
        audit_record(actor=principal, action="view", obj=contact)
    return contact


def _region_for(tenant_id: int, phone: str) -> str:
    # Numbers with an international prefix carry their country; only local ones need the
    # tenant's region, which costs a query — callers on a hot path pass E.164.
    stripped = phone.strip()
    if stripped.startswith(("+", "00")) or stripped.lower().startswith("tel:+"):
        return ""
    return Tenant.objects.values_list("default_region", flat=True).get(pk=tenant_id)


def contact_by_phone(*, tenant_id: int, phone: str, region: str | None = None) -> Contact | None:
    """The contact of `tenant_id` reachable at `phone`, or None.

    `phone` is normalised to E.164 first (with `region`, else the tenant's default region for
    numbers written without a country code), then found with ONE query on the unique
    (tenant, kind, value) index, which also loads the contact. Raises `ValidationError` when
    `phone` is not a phone number at all.
    """
    if region is None:
        region = _region_for(tenant_id, phone)
    value = normalize_phone(phone, region=region)
    identity = ContactIdentity.objects.select_related("contact").filter(
        tenant_id=tenant_id, kind=IdentityKind.PHONE, value=value
    )[:1]
    # A slice, not .first(): no ORDER BY, so the planner has nothing to weigh against the
    # unique index.
    return identity[0].contact if identity else None


def contact_by_email(*, tenant_id: int, email: str) -> Contact | None:
    """Like `contact_by_phone`, for an email address (validated and lower-cased first)."""
    value = normalize_email(email)
    identity = ContactIdentity.objects.select_related("contact").filter(
        tenant_id=tenant_id, kind=IdentityKind.EMAIL, value=value
    )[:1]
    # A slice, not .first(): no ORDER BY, so the planner has nothing to weigh against the
    # unique index.
    return identity[0].contact if identity else None


def organizations_for(principal: Principal) -> QuerySet[Organization]:
    return scope(Organization.objects.all(), principal)
