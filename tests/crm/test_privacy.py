"""crm.services.privacy: a customer's right to see, and to be forgotten by, what we hold."""

from __future__ import annotations

import json

import pytest

from crm.models import AuditEntry, Contact, Note, Ticket, TicketStatus, TimelineEntry
from crm.selectors.contacts import contact_by_phone
from crm.services.contacts import contact_create, contact_merge, contact_update
from crm.services.privacy import ERASED, contact_erase, contact_export
from crm.services.tickets import note_add, ticket_create, ticket_transition
from tests.crm.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(tenant, agent):
    """Anna, with a solved and an open ticket, notes, tags and a merged-in duplicate."""
    anna = contact_create(
        tenant=tenant,
        actor=agent,
        first_name="Anna",
        last_name="Berg",
        phones=["+4520123456"],
        emails=["anna@example.com"],
        organization=OrganizationFactory(tenant=tenant, name="Nordlys A/S"),
        tags=["vip"],
        consent_marketing=True,
    )
    solved = ticket_create(
        tenant=tenant,
        actor=agent,
        subject="Anna's invoice",
        description="Anna Berg, Vej 1",
        contact=anna,
    )
    ticket_transition(ticket=solved, status=TicketStatus.SOLVED, actor=agent)
    ticket_create(tenant=tenant, actor=agent, subject="Meter reading", contact=anna)
    note_add(actor=agent, body="Anna says she moves in May", ticket=solved)
    duplicate = contact_create(
        tenant=tenant, actor=agent, first_name="Anna B.", phones=["+4532123456"]
    )
    contact_merge(source=duplicate, target=anna, actor=agent)
    return anna


def test_export_holds_everything_and_is_json(customer, manager):
    # when a manager exports the customer's data
    data = contact_export(contact=customer, actor=manager)

    # then it is plain JSON with every kind of thing we hold
    assert json.loads(json.dumps(data)) == data
    assert data["contact"]["first_name"] == "Anna"
    assert data["contact"]["consent_marketing"] is True
    assert data["organization"]["name"] == "Nordlys A/S"
    assert sorted(i["value"] for i in data["identities"]) == [
        "+4520123456",
        "+4532123456",
        "anna@example.com",
    ]
    assert data["tags"] == ["vip"]
    assert [t["subject"] for t in data["tickets"]] == ["Anna's invoice", "Meter reading"]
    assert data["tickets"][0]["status"] == "solved"
    assert data["tickets"][0]["resolved_at"] is not None
    assert [n["body"] for n in data["tickets"][0]["notes"]] == ["Anna says she moves in May"]
    assert [n["body"] for n in data["notes"]] == ["Anna says she moves in May"]
    assert "contact.merged" in [e["kind"] for e in data["timeline"]]
    assert len(data["merged_contacts"]) == 1
    # and the export itself is on record
    assert AuditEntry.objects.filter(action="export", object_id=str(customer.pk)).count() == 1


def test_erase_anonymises_content_but_keeps_ticket_statistics(
    tenant, customer, manager, received, django_capture_on_commit_callbacks
):
    # given what the statistics count before
    def statistics():
        return {
            "tickets": Ticket.objects.filter(tenant=tenant).count(),
            "solved": Ticket.objects.filter(tenant=tenant, status=TicketStatus.SOLVED).count(),
            "timestamps": list(
                Ticket.objects.filter(tenant=tenant)
                .order_by("number")
                .values_list("number", "created_at", "resolved_at", "closed_at")
            ),
            "timeline_kinds": sorted(TimelineEntry.objects.values_list("kind", flat=True)),
            "notes": Note.objects.count(),
        }

    before = statistics()

    # when the customer is erased
    with django_capture_on_commit_callbacks(execute=True):
        contact_erase(contact=customer, actor=manager)

    # then the numbers are the same
    assert statistics() == before
    # and nothing personal is left on the contact, its duplicate, tickets, notes or timeline
    for contact in Contact.objects.all():
        assert (contact.first_name, contact.last_name, contact.organization_id) == ("", "", None)
        assert contact.custom_attributes == {}
        assert not contact.tags.exists()
        assert contact.erased_at is not None
        assert contact.consent_marketing is False
        assert contact.consent_calls is False
    assert contact_by_phone(tenant_id=tenant.pk, phone="+4520123456") is None
    assert contact_by_phone(tenant_id=tenant.pk, phone="+4532123456") is None
    assert set(Ticket.objects.values_list("subject", "description")) == {(ERASED, "")}
    assert set(Note.objects.values_list("body", flat=True)) == {ERASED}
    assert set(TimelineEntry.objects.values_list("summary", flat=True)) == {ERASED}
    assert all(d == {} for d in TimelineEntry.objects.values_list("data", flat=True))
    # and the audit trail keeps who did what, without the names it once quoted
    reprs = AuditEntry.objects.exclude(action="erase").values_list("object_repr", "changes")
    assert not [r for r in reprs if "Anna" in json.dumps(r)]
    erase = AuditEntry.objects.get(action="erase")
    assert (erase.actor, erase.changes["identities"]) == (manager.user, 3)
    assert [e.name for e in received] == ["contact.erased"]


def test_an_erased_contacts_export_shows_nothing_personal(customer, manager):
    contact_erase(contact=customer, actor=manager)

    data = json.dumps(contact_export(contact=customer, actor=manager))

    assert "Anna" not in data
    assert "anna@example.com" not in data
    assert "+4520123456" not in data


def test_a_change_saved_from_a_copy_read_before_the_erasure_does_not_undo_it(customer, manager):
    # given an agent's copy of the contact, read before a manager erased it
    stale = Contact.objects.get(pk=customer.pk)
    contact_erase(contact=customer, actor=manager)

    # when the agent saves a change from that copy
    contact_update(contact=stale, actor=manager, language="en")

    # then the contact stays erased: names and the erasure mark are not written back
    customer.refresh_from_db()
    assert customer.erased_at is not None
    assert (customer.first_name, customer.last_name, customer.language) == ("", "", "en")
