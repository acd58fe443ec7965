"""Writes on contacts: create, update, identities, custom attributes, merge.

Every function runs in one transaction, records an audit entry and announces itself with a
domain event after commit. Identity values are normalised (`crm.identities`) before they are
stored; a value another contact of the tenant already holds is refused with a `ValidationError`
naming the field and that contact, never an IntegrityError.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from crm.audit import audit_record
from crm.events import publish
from crm.identities import normalize_identity
from crm.models import (
    Contact,
    ContactIdentity,
    ContactMerge,
    CustomAttributeDefinition,
    IdentityKind,
    Note,
    Organization,
    Tag,
    Tenant,
    Ticket,
    TimelineEntry,
)
from crm.models.tenancy import validate_time_zone
from crm.services.tags import tags_replace, tags_resolve
from crm.services.timeline import timeline_add
from crm.tenancy import Principal

# Plain fields `contact_update` sets as given.
SIMPLE_FIELDS = (
    "first_name",
    "last_name",
    "language",
    "time_zone",
    "consent_marketing",
    "consent_calls",
    "consent_recording",
)
UPDATABLE_FIELDS = frozenset(
    {*SIMPLE_FIELDS, "organization", "custom_attributes", "tags", "phones", "emails", "handles"}
)
HANDLE_KINDS = frozenset(IdentityKind.values) - {IdentityKind.PHONE, IdentityKind.EMAIL}
# Fields a merge copies from the source when the target has none.
MERGE_FILL_FIELDS = ("first_name", "last_name", "language", "time_zone", "organization_id")


def contact_payload(contact: Contact) -> dict[str, Any]:
    return {"id": contact.pk, "name": contact.display_name}


# --- custom attributes -----------------------------------------------------------------------


def custom_attributes_validate(*, tenant: Tenant, values: dict[str, Any] | None) -> dict[str, Any]:
    """`values` checked against the tenant's `CustomAttributeDefinition`s and cleaned.

    Numbers stay numbers, booleans must be true/false, dates become "YYYY-MM-DD", choices must
    be one of the definition's choices. A `None` value means "not set". Errors are collected
    for every key at once and raised as `ValidationError({key: [message]})`.
    """
    values = dict(values or {})
    definitions = {d.key: d for d in CustomAttributeDefinition.objects.filter(tenant=tenant)}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            errors[key] = [f"Unknown attribute “{key}”."]
            continue
        if value is None or value == "":
            continue
        try:
            cleaned[key] = _clean_attribute(definition, value)
        except ValidationError as exc:
            errors[key] = exc.messages
    for key, definition in definitions.items():
        if definition.required and key not in cleaned and key not in errors:
            errors[key] = [f"“{definition.label}” is required."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _clean_attribute(definition: CustomAttributeDefinition, value: Any) -> Any:
    kind = CustomAttributeDefinition.Type
    if definition.type == kind.TEXT:
        if not isinstance(value, str):
            raise ValidationError("Expected text.")
        return value
    if definition.type == kind.NUMBER:
        # bool is an int subclass in Python; a checkbox is not a number.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError("Expected a number.")
        return value
    if definition.type == kind.BOOLEAN:
        if not isinstance(value, bool):
            raise ValidationError("Expected true or false.")
        return value
    if definition.type == kind.DATE:
        if isinstance(value, dt.datetime):
            raise ValidationError("Expected a date (YYYY-MM-DD), not a date and time.")
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise ValidationError("Expected a date (YYYY-MM-DD).") from exc
    if definition.type == kind.CHOICE:
        if value not in (definition.choices or []):
            offered = ", ".join(str(c) for c in definition.choices or [])
            raise ValidationError(f"“{value}” is not one of the choices: {offered}.")
        return value
    raise ValidationError(f"Unsupported attribute type {definition.type}.")


# --- identities ------------------------------------------------------------------------------


def _region(tenant_id: int, tenant: Tenant | None = None) -> str:
    if tenant is not None:
        return tenant.default_region
    return Tenant.objects.values_list("default_region", flat=True).get(pk=tenant_id)


def _refuse_taken(
    *, tenant_id: int, kind: str, value: str, contact: Contact | None, field: str
) -> None:
    taken = (
        ContactIdentity.objects.filter(tenant_id=tenant_id, kind=kind, value=value)
        .select_related("contact")
        .first()
    )
    if taken is not None and (contact is None or taken.contact_id != contact.pk):
        raise ValidationError({field: [_taken_message(kind, value, taken.contact)]})


def _taken_message(kind: str, value: str, owner: Contact) -> str:
    return f"The {kind} {value} already belongs to contact #{owner.pk} ({owner.display_name})."


def _create_identity(
    *, contact: Contact, kind: str, value: str, field: str, label: str = "", is_primary: bool
) -> ContactIdentity:
    _refuse_taken(tenant_id=contact.tenant_id, kind=kind, value=value, contact=contact, field=field)
    try:
        # A savepoint, so that losing a race to a concurrent insert leaves the outer
        # transaction usable and the caller gets the same clear error as above.
        with transaction.atomic():
            return ContactIdentity.objects.create(
                tenant_id=contact.tenant_id,
                contact=contact,
                kind=kind,
                value=value,
                label=label,
                is_primary=is_primary,
            )
    except IntegrityError as exc:
        owner = ContactIdentity.objects.select_related("contact").get(
            tenant_id=contact.tenant_id, kind=kind, value=value
        )
        raise ValidationError({field: [_taken_message(kind, value, owner.contact)]}) from exc


def _normalised_list(
    kind_for: Iterable[tuple[str, str]], *, region: str, field: str
) -> list[tuple[str, str]]:
    """[(kind, normalised value)], duplicates dropped, errors collected per field."""
    result: list[tuple[str, str]] = []
    messages: list[str] = []
    for kind, value in kind_for:
        try:
            pair = (kind, normalize_identity(kind, value, region=region))
        except ValidationError as exc:
            messages.extend(exc.messages)
            continue
        if pair not in result:
            result.append(pair)
    if messages:
        raise ValidationError({field: messages})
    return result


def _identity_inputs(
    *,
    phones: Iterable[str] | None,
    emails: Iterable[str] | None,
    handles: Iterable[tuple[str, str]] | None,
    region: str,
) -> dict[str, list[tuple[str, str]]]:
    """Normalised identities per input field, only for the fields given (not None)."""
    given: dict[str, list[tuple[str, str]]] = {}
    errors: dict[str, list[str]] = {}
    # A lone string is one value, not a sequence of one-character values.
    phones = [phones] if isinstance(phones, str) else phones
    emails = [emails] if isinstance(emails, str) else emails
    inputs: dict[str, Iterable[tuple[str, str]] | None] = {
        "phones": None if phones is None else [(IdentityKind.PHONE, p) for p in phones],
        "emails": None if emails is None else [(IdentityKind.EMAIL, e) for e in emails],
        "handles": None if handles is None else list(handles),
    }
    for field, pairs in inputs.items():
        if pairs is None:
            continue
        if field == "handles":
            bad = [k for k, _ in pairs if k not in HANDLE_KINDS]
            if bad:
                errors[field] = [
                    f"“{k}” is not a handle kind; use one of {', '.join(sorted(HANDLE_KINDS))}."
                    for k in bad
                ]
                continue
        try:
            given[field] = _normalised_list(pairs, region=region, field=field)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return given


def _replace_identities(
    *, contact: Contact, field: str, kinds: frozenset[str], wanted: list[tuple[str, str]]
) -> None:
    """Make the contact's identities of `kinds` exactly `wanted`; the first of each kind is the
    primary one. Identities kept keep their label and creation time."""
    existing = {(i.kind, i.value): i for i in contact.identities.filter(kind__in=kinds)}
    stale = [i.pk for key, i in existing.items() if key not in wanted]
    ContactIdentity.objects.filter(pk__in=stale).delete()
    seen_kinds: set[str] = set()
    for kind, value in wanted:
        primary = kind not in seen_kinds
        seen_kinds.add(kind)
        current = existing.get((kind, value))
        if current is None:
            _create_identity(
                contact=contact, kind=kind, value=value, field=field, is_primary=primary
            )
        elif current.is_primary != primary:
            current.is_primary = primary
            current.save(update_fields=["is_primary"])


def _check_fields(*, tenant_id: int, organization: Organization | None, time_zone: str) -> None:
    errors: dict[str, list[str]] = {}
    if time_zone:
        try:
            validate_time_zone(time_zone)
        except ValidationError as exc:
            errors["time_zone"] = exc.messages
    if organization is not None and organization.tenant_id != tenant_id:
        errors["organization"] = ["The organization belongs to another tenant."]
    if errors:
        raise ValidationError(errors)


# --- contacts --------------------------------------------------------------------------------


@transaction.atomic
def contact_create(
    *,
    tenant: Tenant,
    actor: Principal | None,
    first_name: str = "",
    last_name: str = "",
    phones: Iterable[str] = (),
    emails: Iterable[str] = (),
    handles: Iterable[tuple[str, str]] = (),
    organization: Organization | None = None,
    language: str = "",
    time_zone: str = "",
    custom_attributes: dict[str, Any] | None = None,
    tags: Iterable[str | Tag] = (),
    consent_marketing: bool = False,
    consent_calls: bool = True,
    consent_recording: bool = True,
) -> Contact:
    """Create a contact with its identities (the first phone and first email are primary).

    `tags` are names (created in the tenant when new) or `Tag`s. Raises `ValidationError`
    keyed by field for invalid phones/emails/handles, identities another contact holds, bad
    custom attributes, a foreign organization or an unknown time zone; nothing is written then.
    """
    _check_fields(tenant_id=tenant.pk, organization=organization, time_zone=time_zone)
    identities = _identity_inputs(
        phones=phones, emails=emails, handles=handles, region=tenant.default_region
    )
    attributes = custom_attributes_validate(tenant=tenant, values=custom_attributes)
    contact = Contact.objects.create(
        tenant=tenant,
        first_name=first_name,
        last_name=last_name,
        organization=organization,
        language=language,
        time_zone=time_zone,
        custom_attributes=attributes,
        consent_marketing=consent_marketing,
        consent_calls=consent_calls,
        consent_recording=consent_recording,
    )
    seen_kinds: set[str] = set()
    for field, pairs in identities.items():
        for kind, value in pairs:
            _create_identity(
                contact=contact,
                kind=kind,
                value=value,
                field=field,
                is_primary=kind not in seen_kinds,
            )
            seen_kinds.add(kind)
    tag_objects = tags_resolve(tenant_id=tenant.pk, tags=tags)
    if tag_objects:
        contact.tags.add(*tag_objects)
    audit_record(
        actor=actor,
        action="create",
        obj=contact,
        changes={
            "fields": [f for f in SIMPLE_FIELDS if getattr(contact, f)],
            "identities": [f"{k}:{v}" for pairs in identities.values() for k, v in pairs],
        },
    )
    timeline_add(
        tenant_id=tenant.pk,
        contact=contact,
        kind="contact.created",
        summary="Contact created",
        actor=actor,
    )
    publish("contact.created", tenant_id=tenant.pk, payload=contact_payload(contact))
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, actor: Principal | None, **fields: Any) -> Contact:
    """Change the given fields (the names of `contact_create`'s arguments).

    `phones`, `emails` and `handles`, when given, replace the contact's identities of those
    kinds (identities kept keep their label). `custom_attributes` replaces the whole dict and is
    validated as a whole. `tags` replaces the tags. Fields not given are left alone.
    """
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"contact_update() got unexpected fields: {', '.join(sorted(unknown))}")
    tenant = contact.tenant
    _check_fields(
        tenant_id=tenant.pk,
        organization=fields.get("organization"),
        time_zone=fields.get("time_zone", ""),
    )
    identities = _identity_inputs(
        phones=fields.get("phones"),
        emails=fields.get("emails"),
        handles=fields.get("handles"),
        region=tenant.default_region,
    )
    changes: dict[str, Any] = {}
    if "custom_attributes" in fields:
        attributes = custom_attributes_validate(tenant=tenant, values=fields["custom_attributes"])
        if attributes != contact.custom_attributes:
            changes["custom_attributes"] = [contact.custom_attributes, attributes]
            contact.custom_attributes = attributes
    for name in (*SIMPLE_FIELDS, "organization"):
        if name in fields and getattr(contact, name) != fields[name]:
            changes[name] = [getattr(contact, name), fields[name]]
            setattr(contact, name, fields[name])
    if changes:
        # Only the changed columns: `contact` may have been read before a concurrent merge or
        # erasure, and a full save would write back its stale `merged_into`, `erased_at` and
        # the names an erasure removed.
        contact.save(update_fields=[*changes, "updated_at"])
    kinds_for_field = {
        "phones": frozenset({IdentityKind.PHONE}),
        "emails": frozenset({IdentityKind.EMAIL}),
        "handles": HANDLE_KINDS,
    }
    for field, pairs in identities.items():
        before = sorted(
            f"{k}:{v}"
            for k, v in contact.identities.filter(kind__in=kinds_for_field[field]).values_list(
                "kind", "value"
            )
        )
        _replace_identities(
            contact=contact, field=field, kinds=kinds_for_field[field], wanted=pairs
        )
        after = sorted(f"{k}:{v}" for k, v in pairs)
        if before != after:
            changes[field] = [before, after]
    if "tags" in fields:
        changed = tags_replace(obj=contact, tenant_id=tenant.pk, tags=fields["tags"])
        if changed:
            changes["tags"] = changed
    if changes:
        audit_record(actor=actor, action="update", obj=contact, changes=changes)
        timeline_add(
            tenant_id=tenant.pk,
            contact=contact,
            kind="contact.updated",
            summary="Contact details changed: " + ", ".join(sorted(changes)),
            actor=actor,
            data={"fields": sorted(changes)},
        )
        publish(
            "contact.updated",
            tenant_id=tenant.pk,
            payload={**contact_payload(contact), "fields": sorted(changes)},
        )
    return contact


@transaction.atomic
def identity_add(
    *,
    contact: Contact,
    kind: str,
    value: str,
    actor: Principal | None,
    label: str = "",
    is_primary: bool = False,
) -> ContactIdentity:
    """Add one identity to `contact`. `is_primary` demotes the contact's other identities of
    the kind; the first identity of a kind is always primary. Errors are keyed "value"."""
    try:
        normalised = normalize_identity(kind, value, region=_region(contact.tenant_id))
    except ValidationError as exc:
        raise ValidationError({"value": exc.messages}) from exc
    others = contact.identities.filter(kind=kind)
    if is_primary:
        others.update(is_primary=False)
    identity = _create_identity(
        contact=contact,
        kind=kind,
        value=normalised,
        field="value",
        label=label,
        is_primary=is_primary or not others.exists(),
    )
    audit_record(
        actor=actor, action="update", obj=contact, changes={"identity_added": str(identity)}
    )
    publish(
        "contact.updated",
        tenant_id=contact.tenant_id,
        payload={**contact_payload(contact), "fields": ["identities"]},
    )
    return identity


@transaction.atomic
def identity_remove(*, identity: ContactIdentity, actor: Principal | None) -> None:
    """Delete one identity; if it was primary, the oldest remaining one of its kind takes over."""
    contact = identity.contact
    kind, was_primary = identity.kind, identity.is_primary
    identity.delete()
    if was_primary:
        successor = contact.identities.filter(kind=kind).order_by("created_at", "pk").first()
        if successor is not None:
            successor.is_primary = True
            successor.save(update_fields=["is_primary"])
    audit_record(
        actor=actor,
        action="update",
        obj=contact,
        changes={"identity_removed": f"{kind}:{identity.value}"},
    )
    publish(
        "contact.updated",
        tenant_id=contact.tenant_id,
        payload={**contact_payload(contact), "fields": ["identities"]},
    )


# --- merge -----------------------------------------------------------------------------------


@transaction.atomic
def contact_merge(*, source: Contact, target: Contact, actor: Principal | None) -> ContactMerge:
    """Merge `source` into `target`: every identity, ticket, note, timeline entry and tag moves
    to `target`; fields empty on `target` are filled from `source` (custom attributes key by
    key); `source` is kept for the record with `merged_into=target`.

    Both rows are locked (in primary-key order, so two concurrent merges cannot deadlock).
    Refuses, with `ValidationError`, merging a contact into itself, across tenants, or when
    either contact has already been merged away.
    """
    if source.pk == target.pk:
        raise ValidationError({"target": ["A contact cannot be merged into itself."]})
    if source.tenant_id != target.tenant_id:
        raise ValidationError({"target": ["Contacts of different tenants cannot be merged."]})
    locked = {
        c.pk: c
        for c in Contact.objects.select_for_update()
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id is not None:
        raise ValidationError(
            {"source": [f"Contact #{source.pk} was already merged into #{source.merged_into_id}."]}
        )
    if target.merged_into_id is not None:
        raise ValidationError(
            {"target": [f"Contact #{target.pk} was merged into #{target.merged_into_id}."]}
        )

    # The target keeps its primary identity of each kind; the source's become secondary.
    target_primary_kinds = set(
        target.identities.filter(is_primary=True).values_list("kind", flat=True)
    )
    source.identities.filter(kind__in=target_primary_kinds).update(is_primary=False)
    moved = {
        "identities": source.identities.update(contact=target),
        "tickets": Ticket.objects.filter(contact=source).update(contact=target),
        "notes": Note.objects.filter(contact=source).update(contact=target),
        "timeline": TimelineEntry.objects.filter(contact=source).update(contact=target),
    }
    source_tags = list(source.tags.all())
    target.tags.add(*source_tags)
    source.tags.clear()
    moved["tags"] = len(source_tags)

    filled = []
    for name in MERGE_FILL_FIELDS:
        if not getattr(target, name) and getattr(source, name):
            setattr(target, name, getattr(source, name))
            filled.append(name.removesuffix("_id"))
    for key, value in source.custom_attributes.items():
        if key not in target.custom_attributes:
            target.custom_attributes[key] = value
            filled.append(f"custom_attributes.{key}")
    target.save()
    source.merged_into = target
    source.save(update_fields=["merged_into", "updated_at"])

    merge = ContactMerge.objects.create(
        tenant_id=target.tenant_id,
        source=source,
        target=target,
        merged_by=actor.user if actor is not None else None,
        moved=moved,
    )
    audit_record(
        actor=actor,
        action="merge",
        obj=target,
        changes={"source": source.pk, "moved": moved, "filled": filled},
    )
    audit_record(actor=actor, action="merge", obj=source, changes={"merged_into": target.pk})
    timeline_add(
        tenant_id=target.tenant_id,
        contact=target,
        kind="contact.merged",
        summary=f"Contact #{source.pk} ({source.display_name}) merged into this contact",
        actor=actor,
        data={"source_id": source.pk, "moved": moved},
        ref_type="crm.contactmerge",
        ref_id=merge.pk,
    )
    publish(
        "contact.merged",
        tenant_id=target.tenant_id,
        payload={"source_id": source.pk, "target_id": target.pk, "moved": moved},
    )
    return merge
