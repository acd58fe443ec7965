"""crm.services.contacts.contact_merge: one customer, two records, merged into one."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.models import AuditEntry, Contact, ContactMerge, Note, TimelineEntry
from crm.selectors.contacts import contact_by_phone, contacts_for
from crm.services.contacts import contact_create, contact_merge, contact_update
from crm.services.tickets import note_add, ticket_create
from tests.crm.factories import ContactFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def duplicate_pair(tenant, agent):
    """The same customer twice: once from a phone call, once from an email."""
    organization = OrganizationFactory(tenant=tenant, name="Nordlys A/S")
    target = contact_create(
        tenant=tenant,
        actor=agent,
        first_name="Anna",
        phones=["+4520123456"],
        tags=["vip"],
        custom_attributes=None,
    )
    source = contact_create(
        tenant=tenant,
        actor=agent,
        first_name="A.",
        last_name="Berg",
        phones=["+4532123456"],
        emails=["anna@example.com"],
        organization=organization,
        language="da",
        tags=["vip", "churn-risk"],
    )
    source.custom_attributes = {"meter": "M-1"}
    source.save()
    ticket = ticket_create(tenant=tenant, actor=agent, subject="Invoice", contact=source)
    note_add(actor=agent, body="Called about the invoice", contact=source, ticket=ticket)
    note_add(actor=agent, body="Prefers email", contact=source)
    return source, target


def test_merge_moves_everything_and_records_who_merged_what(
    tenant, agent, duplicate_pair, received, django_capture_on_commit_callbacks
):
    # given two records of one customer
    source, target = duplicate_pair
    source_timeline = TimelineEntry.objects.filter(contact=source).count()

    # when an agent merges them
    with django_capture_on_commit_callbacks(execute=True):
        merge = contact_merge(source=source, target=target, actor=agent)

    # then every identity, ticket, note, timeline entry and tag is on the target
    assert sorted(target.identities.values_list("value", "is_primary")) == [
        ("+4520123456", True),
        ("+4532123456", False),  # the target keeps its primary number
        ("anna@example.com", True),
    ]
    assert list(target.tickets.values_list("subject", flat=True)) == ["Invoice"]
    assert Note.objects.filter(contact=target).count() == 2
    assert sorted(target.tags.values_list("name", flat=True)) == ["churn-risk", "vip"]
    assert not source.identities.exists()
    assert not source.tickets.exists()
    assert not TimelineEntry.objects.filter(contact=source).exists()
    assert not source.tags.exists()
    # and the empty fields of the target were filled; its own were kept
    target.refresh_from_db()
    assert (target.first_name, target.last_name, target.language) == ("Anna", "Berg", "da")
    assert target.organization.name == "Nordlys A/S"
    assert target.custom_attributes == {"meter": "M-1"}
    # and the merge is on record
    source.refresh_from_db()
    assert source.merged_into == target
    assert merge == ContactMerge.objects.get()
    assert (merge.source, merge.target, merge.merged_by) == (source, target, agent.user)
    assert merge.moved == {
        "identities": 2,
        "tickets": 1,
        "notes": 2,
        "timeline": source_timeline,
        "tags": 2,
    }
    assert AuditEntry.objects.filter(action="merge").count() == 2
    assert target.timeline.first().kind == "contact.merged"
    assert [(e.name, e.payload["source_id"], e.payload["target_id"]) for e in received] == [
        ("contact.merged", source.pk, target.pk)
    ]


def test_after_a_merge_the_sources_number_finds_the_target_and_the_source_is_hidden(
    tenant, agent, duplicate_pair
):
    source, target = duplicate_pair

    contact_merge(source=source, target=target, actor=agent)

    assert contact_by_phone(tenant_id=tenant.pk, phone="+4532123456") == target
    assert source not in contacts_for(agent)


def test_a_contact_cannot_be_merged_into_itself_or_twice_or_into_a_merged_one(
    tenant, agent, duplicate_pair
):
    source, target = duplicate_pair
    third = ContactFactory(tenant=tenant)

    with pytest.raises(ValidationError, match="into itself"):
        contact_merge(source=target, target=target, actor=agent)

    contact_merge(source=source, target=target, actor=agent)

    with pytest.raises(ValidationError, match="already merged"):
        contact_merge(source=source, target=third, actor=agent)
    with pytest.raises(ValidationError, match="was merged into"):
        contact_merge(source=third, target=source, actor=agent)
    assert ContactMerge.objects.count() == 1


def test_contacts_of_different_tenants_cannot_be_merged(tenant, other_tenant, agent):
    mine = ContactFactory(tenant=tenant)
    theirs = ContactFactory(tenant=other_tenant)

    with pytest.raises(ValidationError, match="different tenants"):
        contact_merge(source=theirs, target=mine, actor=agent)
    theirs.refresh_from_db()
    assert theirs.merged_into is None


def test_a_change_saved_from_a_copy_read_before_the_merge_keeps_the_source_merged(
    agent, duplicate_pair
):
    # given an agent's copy of the source, read before it was merged away
    source, target = duplicate_pair
    stale = Contact.objects.get(pk=source.pk)
    contact_merge(source=source, target=target, actor=agent)

    # when the agent saves a change from that copy
    contact_update(contact=stale, actor=agent, last_name="Bergström")

    # then the source is still merged into the target and stays out of the lists
    source.refresh_from_db()
    assert source.merged_into == target
    assert source not in contacts_for(agent)
