"""crm.selectors.search: one box finds contacts, organizations and tickets."""

from __future__ import annotations

import pytest
from django.db import connection

from crm.models import Role
from crm.selectors.search import search
from crm.services.contacts import contact_create
from crm.services.tickets import ticket_create
from crm.tenancy import principal_for_user
from tests.conftest import member
from tests.crm.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def directory(tenant, other_tenant):
    """A few records in the tenant, and look-alikes in another tenant that must never show."""
    nordlys = OrganizationFactory(tenant=tenant, name="Nordlys Energi")
    anna = contact_create(
        tenant=tenant,
        actor=None,
        first_name="Anna",
        last_name="Bergström",
        phones=["+4520123456"],
        emails=["anna.berg@example.com"],
        organization=nordlys,
    )
    mads = contact_create(tenant=tenant, actor=None, first_name="Mads", last_name="Holm")
    ticket = ticket_create(tenant=tenant, actor=None, subject="Invoice dispute", contact=mads)
    OrganizationFactory(tenant=other_tenant, name="Nordlys Polska")
    contact_create(
        tenant=other_tenant,
        actor=None,
        first_name="Anna",
        last_name="Nowak",
        phones=["+4520123456"],
    )
    ticket_create(tenant=other_tenant, actor=None, subject="Invoice missing")
    return {"anna": anna, "mads": mads, "nordlys": nordlys, "ticket": ticket}


def test_a_name_finds_contacts_by_first_or_last_name_and_prefix(agent, directory):
    assert search(principal=agent, query="anna")["contacts"] == [directory["anna"]]
    assert search(principal=agent, query="Bergst")["contacts"] == [directory["anna"]]
    assert search(principal=agent, query="anna bergström")["contacts"] == [directory["anna"]]
    assert search(principal=agent, query="anna holm")["contacts"] == []


def test_an_email_finds_its_contact(agent, directory):
    assert search(principal=agent, query="anna.berg@example.com")["contacts"] == [directory["anna"]]


def test_a_phone_typed_any_way_finds_its_contact_in_the_callers_tenants_only(agent, directory):
    for typed in ("+45 20 12 34 56", "20123456", "0045 20-12-34-56"):
        assert search(principal=agent, query=typed)["contacts"] == [directory["anna"]], typed


def test_organizations_and_tickets_by_subject_or_number(agent, directory):
    found = search(principal=agent, query="nordlys")
    assert found["organizations"] == [directory["nordlys"]]

    assert search(principal=agent, query="invoice")["tickets"] == [directory["ticket"]]
    assert search(principal=agent, query="#1")["tickets"] == [directory["ticket"]]
    assert search(principal=agent, query="1")["tickets"] == [directory["ticket"]]


def test_nothing_from_tenants_the_principal_cannot_see(tenant, other_tenant, directory):
    viewer = principal_for_user(member(other_tenant, Role.VIEWER))
    found = search(principal=viewer, query="anna")
    assert [c.last_name for c in found["contacts"]] == ["Nowak"]
    assert search(principal=principal_for_user(None), query="anna") == {
        "contacts": [],
        "organizations": [],
        "tickets": [],
    }


def test_operators_and_empty_input_are_harmless(agent, directory):
    for query in ("", "   ", "&|!():*", "'; drop table crm_contact; --", "anna & !"):
        result = search(principal=agent, query=query)
        assert set(result) == {"contacts", "organizations", "tickets"}
    assert search(principal=agent, query="anna & !")["contacts"] == [directory["anna"]]


def test_limit_caps_each_list(tenant, agent):
    for n in range(5):
        contact_create(tenant=tenant, actor=None, first_name="Ida", last_name=f"Lund{n}")

    assert len(search(principal=agent, query="ida", limit=3)["contacts"]) == 3


@pytest.mark.postgres
def test_postgres_answers_from_the_gin_indexes(agent, directory):
    # given the search indexes from the migration
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%%_fts'")
        assert {row[0] for row in cursor.fetchall()} == {
            "crm_contact_name_fts",
            "crm_identity_value_fts",
            "crm_organization_name_fts",
            "crm_ticket_subject_fts",
        }

    # when the planner is told to avoid scanning tables (they are tiny here)
    from crm.models import Contact, ContactIdentity, Organization, Ticket
    from crm.selectors.search import _match

    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        for model, table, fields in (
            (Contact, "contact", ("first_name",)),
            (Organization, "organization", ("name",)),
            (Ticket, "ticket", ("subject",)),
            (ContactIdentity, "identity", ("value",)),
        ):
            queryset = model.objects.filter(_match(table, ["anna"], *fields))
            plans.append(queryset.explain())
        cursor.execute("RESET enable_seqscan")

    # then each query uses its full-text index: the expressions match the migration's
    assert "crm_contact_name_fts" in plans[0]
    assert "crm_organization_name_fts" in plans[1]
    assert "crm_ticket_subject_fts" in plans[2]
    assert "crm_identity_value_fts" in plans[3]
