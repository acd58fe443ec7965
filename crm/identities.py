"""Normalising the ways a contact can be reached, so equal identities are stored equally.

Phone numbers become E.164 (`+4520123456`), emails are validated and lower-cased, social handles
lose decoration (`@`, surrounding spaces). Every function raises Django's `ValidationError` with a
message fit to show the person who typed the value.
"""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from crm.models import IdentityKind

PHONE_KINDS = frozenset({IdentityKind.PHONE, IdentityKind.WHATSAPP})
# Handles whose platform treats them case-insensitively; others (Messenger page-scoped ids,
# free-form "other" handles) are kept as given.
CASE_INSENSITIVE_HANDLES = frozenset({IdentityKind.INSTAGRAM})


def normalize_phone(value: str, *, region: str) -> str:
    """`value` in E.164. `region` ("DK", "PL") is used when the number has no country code.

    Accepts the usual ways people write numbers: spaces, dashes, brackets, a `00` or `+`
    international prefix and a `tel:` URI scheme.
    """
    raw = (value or "").strip()
    if raw.lower().startswith("tel:"):
        raw = raw[4:]
    if not raw:
        raise ValidationError("Enter a phone number.", code="invalid_phone")
    try:
        parsed = phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            "“%(value)s” is not a phone number (%(reason)s).",
            code="invalid_phone",
            params={"value": value, "reason": _parse_reason(exc)},
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            "“%(value)s” is not a valid phone number (region %(region)s).",
            code="invalid_phone",
            params={"value": value, "region": region or "none"},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a number",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "cannot be parsed")


def normalize_email(value: str) -> str:
    """`value` validated and lower-cased as a whole.

    Lower-casing the local part is not what RFC 5321 promises, but it is what every mail
    provider our customers use does, and it keeps "Anna@X.dk" and "anna@x.dk" one identity.
    """
    cleaned = (value or "").strip()
    if cleaned.lower().startswith("mailto:"):
        cleaned = cleaned[7:]
    try:
        validate_email(cleaned)
    except ValidationError as exc:
        raise ValidationError(
            "“%(value)s” is not a valid email address.",
            code="invalid_email",
            params={"value": value},
        ) from exc
    return cleaned.lower()


def normalize_handle(kind: str, value: str) -> str:
    cleaned = (value or "").strip()
    if kind in {IdentityKind.INSTAGRAM, IdentityKind.OTHER}:
        cleaned = cleaned.lstrip("@")
    if kind in CASE_INSENSITIVE_HANDLES:
        cleaned = cleaned.lower()
    if not cleaned:
        raise ValidationError(
            "Enter the %(kind)s handle.", code="invalid_handle", params={"kind": kind}
        )
    if any(ch.isspace() for ch in cleaned):
        raise ValidationError(
            "“%(value)s” is not a valid %(kind)s handle: it contains spaces.",
            code="invalid_handle",
            params={"value": value, "kind": kind},
        )
    return cleaned


def normalize_identity(kind: str, value: str, *, region: str) -> str:
    """The stored form of an identity of `kind`. WhatsApp values are phone numbers, written
    plain or as Twilio addresses them (`whatsapp:+4520123456`)."""
    if kind not in IdentityKind.values:
        raise ValidationError(
            "Unknown identity kind “%(kind)s”; use one of %(kinds)s.",
            code="invalid_kind",
            params={"kind": kind, "kinds": ", ".join(IdentityKind.values)},
        )
    if kind == IdentityKind.PHONE:
        return normalize_phone(value, region=region)
    if kind == IdentityKind.WHATSAPP:
        raw = (value or "").strip()
        if raw.lower().startswith("whatsapp:"):
            raw = raw[len("whatsapp:") :]
        return normalize_phone(raw, region=region)
    if kind == IdentityKind.EMAIL:
        return normalize_email(value)
    return normalize_handle(kind, value)


def looks_like_phone(text: str) -> bool:
    """True for input a person would type as a phone number (used by search)."""
    stripped = text.strip()
    digits = sum(ch.isdigit() for ch in stripped)
    return digits >= 6 and all(ch.isdigit() or ch in "+()-. /" for ch in stripped)
