"""The contact panel: edit details, identities, tags and custom attributes through crm's
services, merge a duplicate; bad input answers 400 keeping what was typed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import Contact, CustomAttributeDefinition, IdentityKind
from tests.crm.factories import ContactFactory, ContactIdentityFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(tenant):
    contact = ContactFactory(tenant=tenant, first_name="Ingrid", last_name="Berg")
    ContactIdentityFactory(contact=contact, kind=IdentityKind.PHONE, value="+4520123456")
    return contact


def test_edit_form_shows_current_values(agent_client, contact):
    html = agent_client.get(reverse("agent-contact-edit", args=[contact.pk])).content.decode()
    assert 'value="Ingrid"' in html
    assert "+4520123456" in html


def test_saving_changes_details_identities_tags_and_attributes(agent_client, tenant, contact):
    CustomAttributeDefinition.objects.create(tenant=tenant, key="customer_no", label="Customer no")

    response = agent_client.post(
        reverse("agent-contact-edit", args=[contact.pk]),
        {
            "first_name": "Ingrid",
            "last_name": "Berg-Hansen",
            "phones": "+4520123456",
            "emails": "ingrid@example.dk",
            "tags": "vip, nordjylland",
            "attr_customer_no": "C-991",
        },
    )

    assert response.status_code == 200, response.content.decode()[:800]
    html = response.content.decode()
    assert "Berg-Hansen" in html
    assert "ingrid@example.dk" in html
    contact.refresh_from_db()
    assert contact.last_name == "Berg-Hansen"
    assert sorted(t.name for t in contact.tags.all()) == ["nordjylland", "vip"]
    assert contact.custom_attributes == {"customer_no": "C-991"}


def test_an_invalid_email_is_refused_and_what_was_typed_stays(agent_client, contact):
    response = agent_client.post(
        reverse("agent-contact-edit", args=[contact.pk]),
        {"first_name": "Inga", "last_name": "Berg", "emails": "not-an-email"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="Inga"' in html
    assert "not-an-email" in html
    assert 'class="error"' in html
    contact.refresh_from_db()
    assert contact.first_name == "Ingrid"


def test_merging_a_duplicate_by_email_moves_its_tickets(agent_client, tenant, contact):
    duplicate = ContactFactory(tenant=tenant, first_name="I.", last_name="Berg")
    ContactIdentityFactory(contact=duplicate, kind=IdentityKind.EMAIL, value="ib@example.dk")
    ticket = TicketFactory(tenant=tenant, contact=duplicate)

    response = agent_client.post(
        reverse("agent-contact-merge", args=[contact.pk]), {"duplicate": "ib@example.dk"}
    )

    assert response.status_code == 200
    ticket.refresh_from_db()
    duplicate.refresh_from_db()
    assert ticket.contact == contact
    assert duplicate.merged_into == contact


def test_merging_an_unknown_contact_says_so(agent_client, contact):
    response = agent_client.post(
        reverse("agent-contact-merge", args=[contact.pk]), {"duplicate": "nobody@example.dk"}
    )
    assert response.status_code == 400
    assert "No contact of this tenant matches" in response.content.decode()


def test_a_contact_of_another_tenant_cannot_be_edited_or_merged(
    agent_client, tenant, other_tenant, contact
):
    theirs = ContactFactory(tenant=other_tenant, first_name="Zofia")
    edit = agent_client.post(reverse("agent-contact-edit", args=[theirs.pk]), {"first_name": "X"})
    assert edit.status_code == 404
    merge = agent_client.post(
        reverse("agent-contact-merge", args=[contact.pk]), {"duplicate": str(theirs.pk)}
    )
    assert merge.status_code == 400
    theirs.refresh_from_db()
    assert theirs.first_name == "Zofia"
    assert theirs.merged_into is None
    assert Contact.objects.filter(merged_into=contact).count() == 0
