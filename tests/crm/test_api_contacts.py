"""/api/v1/contacts/: create and change with identities, lookup, merge, timeline, erase."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import (
    AuditEntry,
    Contact,
    ContactIdentity,
    CustomAttributeDefinition,
    Note,
    Role,
    Tag,
    TimelineEntry,
)
from tests.conftest import member
from tests.crm.api_support import ids, results, session_client
from tests.crm.factories import (
    ContactFactory,
    ContactIdentityFactory,
    OrganizationFactory,
    TicketFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_api_state")]
CONTACTS = "/api/v1/contacts/"


@pytest.fixture
def client(agent_user):
    return session_client(agent_user)


def error_fields(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def test_create_normalises_identities_and_answers_with_them(client, tenant):
    # given a Danish tenant's agent
    # when they create a contact with a national phone number and a mixed-case email
    response = client.post(
        CONTACTS,
        {
            "first_name": "Karen",
            "last_name": "Blixen",
            "phones": ["20 12 34 56"],
            "emails": ["Karen@Example.DK"],
            "handles": [{"kind": "instagram", "value": "@KarenB"}],
            "tags": ["vip"],
        },
        format="json",
    )

    # then the contact is stored in their only tenant with normalised, primary identities
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["tenant"] == tenant.slug
    assert body["tags"] == ["vip"]
    identities = {(i["kind"], i["value"], i["is_primary"]) for i in body["identities"]}
    assert identities == {
        ("phone", "+4520123456", True),
        ("email", "karen@example.dk", True),
        ("instagram", "karenb", True),
    }
    assert Contact.objects.get(pk=body["id"]).tenant == tenant


def test_invalid_phone_and_email_answer_400_per_field_and_store_nothing(client, tenant):
    response = client.post(
        CONTACTS,
        {"first_name": "Bad", "phones": ["12"], "emails": ["not-an-email"]},
        format="json",
    )

    fields = error_fields(response)
    assert set(fields) == {"phones", "emails"}
    assert "12" in fields["phones"][0]
    assert not Contact.objects.filter(first_name="Bad").exists()


def test_a_phone_another_contact_holds_is_refused_naming_the_field(client, tenant):
    holder = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=holder, value="+4520123456")

    response = client.post(CONTACTS, {"phones": ["+45 20 12 34 56"]}, format="json")

    assert f"#{holder.pk}" in error_fields(response)["phones"][0]


def test_unknown_time_zone_is_a_field_error(client, tenant):
    response = client.post(CONTACTS, {"time_zone": "Mars/Olympus"}, format="json")

    assert "time_zone" in error_fields(response)


def test_custom_attributes_are_checked_against_the_tenants_definitions(client, tenant):
    CustomAttributeDefinition.objects.create(tenant=tenant, key="tier", label="Tier", type="number")

    refused = client.post(CONTACTS, {"custom_attributes": {"tier": "gold", "shoe": 42}})
    accepted = client.post(CONTACTS, {"custom_attributes": {"tier": 3}}, format="json")

    assert {"tier", "shoe"} <= set(error_fields(refused))
    assert accepted.status_code == 201
    assert accepted.json()["custom_attributes"] == {"tier": 3}


def test_patch_replaces_phones_and_keeps_other_fields(client, tenant):
    # given a contact with one phone
    contact = ContactFactory(tenant=tenant, first_name="Karen", language="da")
    ContactIdentityFactory(contact=contact, value="+4520123456", is_primary=True)

    # when the phones are replaced
    response = client.patch(f"{CONTACTS}{contact.pk}/", {"phones": ["+4531234567"]}, format="json")

    # then only the new number is left, and the rest is untouched
    assert response.status_code == 200, response.content
    assert [i["value"] for i in response.json()["identities"]] == ["+4531234567"]
    assert response.json()["first_name"] == "Karen"
    assert response.json()["language"] == "da"


def test_retrieving_a_contact_is_recorded_in_the_audit_trail(client, tenant, agent_user):
    contact = ContactFactory(tenant=tenant)

    client.get(f"{CONTACTS}{contact.pk}/")

    entry = AuditEntry.objects.get(action="view", object_id=str(contact.pk))
    assert entry.actor == agent_user


# --- lookup ---


@pytest.mark.parametrize(
    "query",
    [{"phone": "20 12 34 56"}, {"phone": "+4520123456"}, {"email": "KAREN@example.dk"}],
    ids=["national-phone", "e164-phone", "email-any-case"],
)
def test_lookup_finds_the_contact_by_phone_or_email(client, tenant, query):
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, value="+4520123456")
    ContactIdentityFactory(contact=contact, kind="email", value="karen@example.dk")

    response = client.get(f"{CONTACTS}lookup/", query)

    assert response.status_code == 200, response.content
    assert response.json()["id"] == contact.pk


def test_a_lookup_that_finds_a_contact_is_recorded_in_the_audit_trail(client, tenant, agent_user):
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, value="+4520123456")

    client.get(f"{CONTACTS}lookup/", {"phone": "+4520123456"})
    client.get(f"{CONTACTS}lookup/", {"phone": "+4599999999"})

    entry = AuditEntry.objects.get(action="view")
    assert (entry.object_id, entry.actor) == (str(contact.pk), agent_user)


def test_lookup_of_an_unknown_number_is_404(client, tenant):
    response = client.get(f"{CONTACTS}lookup/", {"phone": "+4599999999"})

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "non_field_errors"),
        ({"phone": "+4520123456", "email": "a@b.dk"}, "non_field_errors"),
        ({"phone": "abc"}, "phone"),
        ({"email": "nope"}, "email"),
    ],
    ids=["nothing", "both", "bad-phone", "bad-email"],
)
def test_lookup_bad_input_is_400(client, tenant, query, field):
    response = client.get(f"{CONTACTS}lookup/", query)

    assert field in error_fields(response)


# --- merge ---


def test_merge_moves_identities_and_marks_the_source(client, tenant):
    # given two records of the same person
    target = ContactFactory(tenant=tenant)
    source = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=source, value="+4520123456")

    # when one is merged into the other
    response = client.post(f"{CONTACTS}{target.pk}/merge/", {"source": source.pk}, format="json")

    # then the identity moved, the source is marked, and the list shows only the target
    assert response.status_code == 200, response.content
    assert response.json()["moved"]["identities"] == 1
    assert ContactIdentity.objects.get(value="+4520123456").contact == target
    source.refresh_from_db()
    assert source.merged_into == target
    assert ids(client.get(CONTACTS)) == {target.pk}
    assert ids(client.get(CONTACTS, {"merged": "true"})) == {source.pk}
    assert client.get(f"{CONTACTS}{source.pk}/").json()["merged_into"] == target.pk


def test_merging_a_contact_into_itself_is_400(client, tenant):
    contact = ContactFactory(tenant=tenant)

    response = client.post(f"{CONTACTS}{contact.pk}/merge/", {"source": contact.pk}, format="json")

    assert response.status_code == 400


# --- timeline ---


def test_timeline_pages_newest_first(client, tenant):
    # given three timeline entries an hour apart
    contact = ContactFactory(tenant=tenant)
    now = timezone.now()
    for hours_ago in (3, 1, 2):
        TimelineEntry.objects.create(
            tenant=tenant,
            contact=contact,
            kind="note.added",
            summary=f"{hours_ago}h ago",
            occurred_at=now - timedelta(hours=hours_ago),
        )

    # when read two at a time
    first = client.get(f"{CONTACTS}{contact.pk}/timeline/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    # then the newest come first and the second page holds the rest
    assert [e["summary"] for e in first["results"]] == ["1h ago", "2h ago"]
    assert [e["summary"] for e in second["results"]] == ["3h ago"]
    assert second["next"] is None


# --- filters and ordering ---


def test_filters_by_tag_organization_and_updated_since(client, tenant):
    org = OrganizationFactory(tenant=tenant)
    tagged = ContactFactory(tenant=tenant)
    tagged.tags.add(Tag.objects.create(tenant=tenant, name="vip"))
    employee = ContactFactory(tenant=tenant, organization=org)
    old = ContactFactory(tenant=tenant)
    Contact.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    assert ids(client.get(CONTACTS, {"tag": "vip"})) == {tagged.pk}
    assert ids(client.get(CONTACTS, {"organization": org.pk})) == {employee.pk}
    assert ids(client.get(CONTACTS, {"updated_since": since})) == {tagged.pk, employee.pk}


def test_list_is_newest_first_and_orders_on_request(client, tenant):
    first = ContactFactory(tenant=tenant, last_name="Zed")
    second = ContactFactory(tenant=tenant, last_name="Abe")

    newest_first = [c["id"] for c in results(client.get(CONTACTS))]
    by_name = [c["id"] for c in results(client.get(CONTACTS, {"ordering": "last_name"}))]

    assert newest_first == [second.pk, first.pk]
    assert by_name == [second.pk, first.pk]
    assert [c["id"] for c in results(client.get(CONTACTS, {"ordering": "-last_name"}))] == [
        first.pk,
        second.pk,
    ]


# --- erase ---


def test_manager_erases_a_contact_and_agents_may_not(client, tenant):
    contact = ContactFactory(tenant=tenant, first_name="Karen")
    ContactIdentityFactory(contact=contact)
    manager = session_client(member(tenant, Role.MANAGER))

    refused = client.delete(f"{CONTACTS}{contact.pk}/")
    erased = manager.delete(f"{CONTACTS}{contact.pk}/")

    assert refused.status_code == 403
    assert erased.status_code == 204
    contact.refresh_from_db()
    assert contact.erased_at is not None
    assert contact.first_name == ""
    assert not contact.identities.exists()


def test_manager_exports_everything_held_on_a_contact_and_agents_may_not(client, tenant):
    # given a contact with a phone, a ticket and a note
    contact = ContactFactory(tenant=tenant, first_name="Karen")
    ContactIdentityFactory(contact=contact, value="+4520123456")
    ticket = TicketFactory(tenant=tenant, contact=contact, subject="Router broken")
    Note.objects.create(tenant=tenant, contact=contact, ticket=ticket, body="Called back")
    manager = member(tenant, Role.MANAGER)
    url = f"{CONTACTS}{contact.pk}/export/"

    # when an agent and a manager ask for the export
    refused = client.get(url)
    exported = session_client(manager).get(url)

    # then only the manager gets it, as JSON, and the export is on the audit trail
    assert refused.status_code == 403
    assert exported.status_code == 200, exported.content
    data = exported.json()
    assert data["contact"]["first_name"] == "Karen"
    assert [i["value"] for i in data["identities"]] == ["+4520123456"]
    assert [t["subject"] for t in data["tickets"]] == ["Router broken"]
    assert [n["body"] for n in data["notes"]] == ["Called back"]
    entry = AuditEntry.objects.get(action="export")
    assert (entry.object_id, entry.actor) == (str(contact.pk), manager)


def test_lookup_for_a_user_of_several_tenants_names_the_tenant(tenant, other_tenant):
    # given a Polish contact and a user serving both tenants
    contact = ContactFactory(tenant=other_tenant)
    ContactIdentityFactory(contact=contact, value="+48501234567")
    both = member(tenant, Role.AGENT)
    member(other_tenant, Role.VIEWER, user=both)
    client = session_client(both)

    # when they look the number up without and with the tenant
    unsaid = client.get(f"{CONTACTS}lookup/", {"phone": "501 234 567"})
    said = client.get(f"{CONTACTS}lookup/", {"phone": "501 234 567", "tenant": "wisla"})

    # then the tenant must be named, and its region reads the national number
    assert "tenant" in error_fields(unsaid)
    assert said.json()["id"] == contact.pk
