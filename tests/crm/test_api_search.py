"""/api/v1/search/: contacts, organizations and tickets in one answer."""

from __future__ import annotations

import pytest

from tests.crm.api_support import session_client
from tests.crm.factories import (
    ContactFactory,
    ContactIdentityFactory,
    OrganizationFactory,
    TicketFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_api_state")]
SEARCH = "/api/v1/search/"


def test_search_finds_each_kind(tenant, agent_user):
    # given a contact, an organization and a ticket that all mention "Nordvik"
    contact = ContactFactory(tenant=tenant, first_name="Ole", last_name="Nordvik")
    org = OrganizationFactory(tenant=tenant, name="Nordvik Fiskeri")
    ticket = TicketFactory(tenant=tenant, subject="Nordvik invoice", contact=None)
    ContactFactory(tenant=tenant, first_name="Else", last_name="Hansen")

    # when an agent searches for it
    body = session_client(agent_user).get(SEARCH, {"q": "nordvik"}).json()

    # then each kind comes back, fully rendered
    assert [c["id"] for c in body["contacts"]] == [contact.pk]
    assert [o["id"] for o in body["organizations"]] == [org.pk]
    assert [t["id"] for t in body["tickets"]] == [ticket.pk]
    assert body["tickets"][0]["tenant"] == tenant.slug


def test_search_by_phone_and_ticket_number(tenant, agent_user):
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, value="+4520123456")
    ticket = TicketFactory(tenant=tenant, number=4711, subject="Other")
    client = session_client(agent_user)

    by_phone = client.get(SEARCH, {"q": "20 12 34 56"}).json()
    by_number = client.get(SEARCH, {"q": "#4711"}).json()

    assert [c["id"] for c in by_phone["contacts"]] == [contact.pk]
    assert [t["id"] for t in by_number["tickets"]] == [ticket.pk]


@pytest.mark.parametrize(
    ("query", "field"), [({}, "q"), ({"q": "x", "limit": 0}, "limit")], ids=["no-q", "bad-limit"]
)
def test_search_bad_input_is_400(tenant, agent_user, query, field):
    response = session_client(agent_user).get(SEARCH, query)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
