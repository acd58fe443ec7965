"""crm.identities: how phone numbers, emails and handles are normalised before storage."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.identities import looks_like_phone, normalize_email, normalize_identity, normalize_phone


@pytest.mark.parametrize(
    ("typed", "region", "stored"),
    [
        ("20 12 34 56", "DK", "+4520123456"),
        ("+45 20-12-34-56", "PL", "+4520123456"),
        ("0045 20123456", "DK", "+4520123456"),
        ("tel:+48601234567", "DK", "+48601234567"),
        ("601 234 567", "PL", "+48601234567"),
        ("(601) 234-567", "pl", "+48601234567"),
    ],
)
def test_phone_numbers_are_stored_in_e164_whatever_way_they_were_typed(typed, region, stored):
    assert normalize_phone(typed, region=region) == stored


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "Enter a phone number"),
        ("not a number", "not a phone number"),
        ("+45 1234", "not a valid phone number"),
        ("+999 12345678", "not a phone number"),
        ("20 12 34 56 78 90 12 34 56 78", "too long"),
    ],
)
def test_invalid_phone_numbers_are_refused_with_a_reason(typed, reason):
    with pytest.raises(ValidationError) as error:
        normalize_phone(typed, region="DK")
    assert reason in error.value.messages[0]
    assert error.value.code == "invalid_phone"


def test_a_local_number_means_nothing_without_a_region():
    with pytest.raises(ValidationError):
        normalize_phone("20123456", region="")


def test_emails_are_validated_and_lower_cased():
    assert normalize_email("  Anna.Berg@Nordlys.DK ") == "anna.berg@nordlys.dk"
    assert normalize_email("mailto:ops@example.com") == "ops@example.com"


@pytest.mark.parametrize("typed", ["", "anna", "anna@", "@example.com", "anna berg@example.com"])
def test_invalid_emails_are_refused(typed):
    with pytest.raises(ValidationError) as error:
        normalize_email(typed)
    assert "is not a valid email address" in error.value.messages[0]


@pytest.mark.parametrize(
    ("kind", "typed", "stored"),
    [
        ("phone", "20 12 34 56", "+4520123456"),
        ("whatsapp", "whatsapp:+48601234567", "+48601234567"),
        ("whatsapp", "20123456", "+4520123456"),
        ("email", "Ops@Example.com", "ops@example.com"),
        ("instagram", " @Nordlys.Energi ", "nordlys.energi"),
        ("messenger", "6123456789012345", "6123456789012345"),
        ("other", "@SomeHandle", "SomeHandle"),
    ],
)
def test_identities_of_every_kind_are_normalised(kind, typed, stored):
    assert normalize_identity(kind, typed, region="DK") == stored


def test_an_unknown_kind_or_an_empty_handle_is_refused():
    with pytest.raises(ValidationError, match="Unknown identity kind"):
        normalize_identity("fax", "123", region="DK")
    with pytest.raises(ValidationError, match="Enter the instagram handle"):
        normalize_identity("instagram", " @ ", region="DK")
    with pytest.raises(ValidationError, match="contains spaces"):
        normalize_identity("messenger", "two words", region="DK")


@pytest.mark.parametrize(
    ("text", "phone_like"),
    [("+45 20 12 34 56", True), ("(601) 234-567", True), ("1234", False), ("Anna 2012", False)],
)
def test_search_recognises_phone_looking_input(text, phone_like):
    assert looks_like_phone(text) is phone_like
