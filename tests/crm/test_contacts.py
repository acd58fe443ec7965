"""crm.services.contacts and crm.selectors.contacts: creating, changing and finding contacts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.models import AuditEntry, Contact, ContactIdentity, CustomAttributeDefinition, Role
from crm.selectors.contacts import (
    contact_by_email,
    contact_by_phone,
    contact_get,
    contacts_for,
    organizations_for,
)
from crm.services.contacts import (
    contact_create,
    contact_update,
    custom_attributes_validate,
    identity_add,
    identity_remove,
)
from crm.tenancy import principal_for_user
from tests.conftest import member
from tests.crm.factories import ContactFactory, ContactIdentityFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def identities_of(contact: Contact) -> list[tuple[str, str, bool]]:
    return sorted(contact.identities.values_list("kind", "value", "is_primary"))


# --- create ----------------------------------------------------------------------------------


def test_a_contact_is_created_with_normalised_identities_tags_and_an_audit_entry(
    tenant, agent, received, django_capture_on_commit_callbacks
):
    # when an agent creates a contact with numbers typed the local way
    with django_capture_on_commit_callbacks(execute=True):
        contact = contact_create(
            tenant=tenant,
            actor=agent,
            first_name="Anna",
            last_name="Berg",
            phones=["20 12 34 56", "+48 601 234 567"],
            emails=["Anna@Nordlys.DK"],
            handles=[("whatsapp", "whatsapp:+4520123456"), ("instagram", "@AnnaB")],
            tags=["vip", "vip"],
        )

    # then identities are stored normalised, the first of each kind primary
    assert identities_of(contact) == [
        ("email", "anna@nordlys.dk", True),
        ("instagram", "annab", True),
        ("phone", "+4520123456", True),
        ("phone", "+48601234567", False),
        ("whatsapp", "+4520123456", True),
    ]
    assert list(contact.tags.values_list("name", flat=True)) == ["vip"]
    # and it is recorded, on the timeline and announced
    entry = AuditEntry.objects.get(object_type="crm.contact", object_id=str(contact.pk))
    assert (entry.action, entry.actor_id) == ("create", agent.user.pk)
    assert contact.timeline.get().kind == "contact.created"
    assert [(e.name, e.payload["id"]) for e in received] == [("contact.created", contact.pk)]


def test_invalid_phone_and_email_are_refused_per_field_and_nothing_is_written(tenant, agent):
    # when the input holds a bad phone and a bad email
    with pytest.raises(ValidationError) as error:
        contact_create(tenant=tenant, actor=agent, first_name="X", phones=["12"], emails=["anna@"])

    # then both fields are named with a reason, and nothing was stored
    assert set(error.value.message_dict) == {"phones", "emails"}
    assert "not a valid phone number" in error.value.message_dict["phones"][0]
    assert "not a valid email address" in error.value.message_dict["emails"][0]
    assert not Contact.objects.exists()


def test_a_phone_another_contact_holds_is_refused_naming_that_contact(tenant, agent):
    # given a contact reachable at +45 20 12 34 56
    owner = ContactFactory(tenant=tenant, first_name="Bo", last_name="Holm")
    ContactIdentityFactory(contact=owner, value="+4520123456")

    # when another contact is created with the same number, typed differently
    with pytest.raises(ValidationError) as error:
        contact_create(tenant=tenant, actor=agent, phones=["20 12 34 56"])

    # then the field and the existing contact are named, and nothing was stored
    message = error.value.message_dict["phones"][0]
    assert f"#{owner.pk}" in message
    assert "Bo Holm" in message
    assert Contact.objects.count() == 1


def test_the_same_phone_may_belong_to_contacts_of_different_tenants(tenant, other_tenant):
    contact_create(tenant=tenant, actor=None, phones=["+4520123456"])
    contact_create(tenant=other_tenant, actor=None, phones=["+4520123456"])

    assert ContactIdentity.objects.filter(value="+4520123456").count() == 2


def test_a_local_number_is_read_in_the_tenants_own_region(tenant, other_tenant):
    # Polish tenant: "601 234 567" is a Polish mobile
    contact = contact_create(tenant=other_tenant, actor=None, phones=["601 234 567"])
    assert contact.identities.get().value == "+48601234567"


def test_foreign_organization_and_unknown_time_zone_are_refused(tenant, other_tenant):
    foreign = OrganizationFactory(tenant=other_tenant)
    with pytest.raises(ValidationError) as error:
        contact_create(tenant=tenant, actor=None, organization=foreign, time_zone="Mars/Base")
    assert set(error.value.message_dict) == {"organization", "time_zone"}


# --- custom attributes -----------------------------------------------------------------------


@pytest.fixture
def attributes(tenant):
    defs = [
        ("segment", "choice", ["private", "business"], True),
        ("meter_id", "text", [], False),
        ("kwh", "number", [], False),
        ("paperless", "boolean", [], False),
        ("moved_in", "date", [], False),
    ]
    for key, type_, choices, required in defs:
        CustomAttributeDefinition.objects.create(
            tenant=tenant,
            key=key,
            label=key.title(),
            type=type_,
            choices=choices,
            required=required,
        )


def test_custom_attributes_are_cleaned_against_the_tenants_definitions(tenant, attributes):
    cleaned = custom_attributes_validate(
        tenant=tenant,
        values={
            "segment": "business",
            "kwh": 4200.5,
            "paperless": True,
            "moved_in": "2024-03-01",
            "meter_id": None,
        },
    )
    assert cleaned == {
        "segment": "business",
        "kwh": 4200.5,
        "paperless": True,
        "moved_in": "2024-03-01",
    }


def test_each_bad_custom_attribute_gets_its_own_message(tenant, attributes):
    # when every kind of mistake is made at once (and the required "segment" is missing)
    with pytest.raises(ValidationError) as error:
        custom_attributes_validate(
            tenant=tenant,
            values={
                "colour": "red",
                "kwh": "a lot",
                "paperless": 1,
                "moved_in": "1st of May",
                "meter_id": 17,
            },
        )

    # then every key is named with the reason
    errors = error.value.message_dict
    assert errors == {
        "colour": ["Unknown attribute “colour”."],
        "kwh": ["Expected a number."],
        "paperless": ["Expected true or false."],
        "moved_in": ["Expected a date (YYYY-MM-DD)."],
        "meter_id": ["Expected text."],
        "segment": ["“Segment” is required."],
    }


def test_a_choice_not_offered_is_refused_with_the_choices(tenant, attributes):
    with pytest.raises(ValidationError) as error:
        contact_create(tenant=tenant, actor=None, custom_attributes={"segment": "government"})
    assert error.value.message_dict["segment"] == [
        "“government” is not one of the choices: private, business."
    ]


def test_another_tenants_definitions_do_not_apply(other_tenant, attributes):
    with pytest.raises(ValidationError, match="Unknown attribute"):
        custom_attributes_validate(tenant=other_tenant, values={"segment": "private"})


# --- update and identities -------------------------------------------------------------------


def test_update_replaces_the_given_identity_kinds_and_leaves_others(
    tenant, agent, received, django_capture_on_commit_callbacks
):
    # given a contact with two phones and an email
    contact = contact_create(
        tenant=tenant,
        actor=agent,
        first_name="Anna",
        phones=["+4520123456", "+4532123456"],
        emails=["anna@example.com"],
    )
    kept = contact.identities.get(value="+4532123456")

    # when its phones are replaced and its name changed
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(
            contact=contact, actor=agent, first_name="Anne", phones=["32 12 34 56", "40123456"]
        )

    # then the phones are exactly the new ones (the kept one is the same row), email untouched
    assert identities_of(contact) == [
        ("email", "anna@example.com", True),
        ("phone", "+4532123456", True),
        ("phone", "+4540123456", False),
    ]
    assert contact.identities.get(value="+4532123456").pk == kept.pk
    contact.refresh_from_db()
    assert contact.first_name == "Anne"
    # and the change is audited with before/after, and announced
    entry = AuditEntry.objects.filter(action="update").get()
    assert entry.changes["first_name"] == ["Anna", "Anne"]
    assert entry.changes["phones"] == [
        ["phone:+4520123456", "phone:+4532123456"],
        ["phone:+4532123456", "phone:+4540123456"],
    ]
    assert [e.name for e in received] == ["contact.updated"]
    assert received[0].payload["fields"] == ["first_name", "phones"]


def test_update_with_another_contacts_email_is_refused_and_changes_nothing(tenant, agent):
    contact_create(tenant=tenant, actor=agent, emails=["taken@example.com"])
    contact = contact_create(tenant=tenant, actor=agent, first_name="Mads", emails=["m@x.dk"])

    with pytest.raises(ValidationError) as error:
        contact_update(
            contact=contact, actor=agent, first_name="Mathias", emails=["TAKEN@example.com"]
        )

    assert "already belongs to contact" in error.value.message_dict["emails"][0]
    contact.refresh_from_db()
    assert contact.first_name == "Mads"
    assert identities_of(contact) == [("email", "m@x.dk", True)]


def test_update_refuses_unknown_fields(tenant):
    contact = ContactFactory(tenant=tenant)
    with pytest.raises(TypeError, match="status"):
        contact_update(contact=contact, actor=None, status="vip")


def test_identity_add_normalises_refuses_duplicates_and_moves_the_primary_flag(tenant, agent):
    contact = contact_create(tenant=tenant, actor=agent, phones=["+4520123456"])
    other = contact_create(tenant=tenant, actor=agent, phones=["+4532123456"])

    added = identity_add(
        contact=contact, kind="phone", value="40 12 34 56", actor=agent, is_primary=True
    )
    with pytest.raises(ValidationError) as error:
        identity_add(contact=contact, kind="phone", value="32123456", actor=agent)
    with pytest.raises(ValidationError) as invalid:
        identity_add(contact=contact, kind="email", value="nope", actor=agent)

    assert added.value == "+4540123456"
    assert identities_of(contact) == [
        ("phone", "+4520123456", False),
        ("phone", "+4540123456", True),
    ]
    assert f"contact #{other.pk}" in error.value.message_dict["value"][0]
    assert "not a valid email address" in invalid.value.message_dict["value"][0]


def test_removing_the_primary_identity_promotes_the_next_one(tenant, agent):
    contact = contact_create(tenant=tenant, actor=agent, phones=["+4520123456", "+4532123456"])

    identity_remove(identity=contact.identities.get(is_primary=True), actor=agent)

    assert identities_of(contact) == [("phone", "+4532123456", True)]


# --- selectors -------------------------------------------------------------------------------


def test_contact_by_phone_is_one_query_whatever_way_the_number_is_typed(
    tenant, django_assert_num_queries
):
    contact = contact_create(tenant=tenant, actor=None, phones=["+4520123456"])

    with django_assert_num_queries(1):
        found = contact_by_phone(tenant_id=tenant.pk, phone="+45 20 12 34 56")
    with django_assert_num_queries(1):
        assert contact_by_phone(tenant_id=tenant.pk, phone="20123456", region="DK") == contact
    assert found == contact
    # a local number without a region costs one more query, for the tenant's region
    assert contact_by_phone(tenant_id=tenant.pk, phone="20 12 34 56") == contact


def test_lookups_do_not_cross_tenants_and_invalid_input_is_an_error(tenant, other_tenant):
    contact_create(tenant=tenant, actor=None, phones=["+4520123456"], emails=["a@b.dk"])

    assert contact_by_phone(tenant_id=other_tenant.pk, phone="+4520123456") is None
    assert contact_by_email(tenant_id=other_tenant.pk, email="a@b.dk") is None
    assert contact_by_email(tenant_id=tenant.pk, email="A@B.DK") is not None
    with pytest.raises(ValidationError):
        contact_by_phone(tenant_id=tenant.pk, phone="hello")
    with pytest.raises(ValidationError):
        contact_by_email(tenant_id=tenant.pk, email="hello")


def test_contacts_for_loads_a_page_in_three_queries_whatever_its_size(
    tenant, other_tenant, agent, django_assert_num_queries
):
    # given contacts with identities, tags and organizations, and one in another tenant
    organization = OrganizationFactory(tenant=tenant)
    for n in range(5):
        contact_create(
            tenant=tenant,
            actor=None,
            phones=[f"+45201234{n:02d}"],
            tags=["a", "b"],
            organization=organization,
        )
    contact_create(tenant=other_tenant, actor=None, first_name="Hidden")

    # when the page is read with everything a list shows
    with django_assert_num_queries(3):
        page = list(contacts_for(agent))
        shown = [
            (
                c.organization.name,
                [i.value for i in c.identities.all()],
                [t.name for t in c.tags.all()],
            )
            for c in page
        ]

    # then only the tenant's contacts are there
    assert len(shown) == 5
    assert "Hidden" not in [c.first_name for c in page]


def test_contact_get_audits_the_view_and_hides_other_tenants(tenant, other_tenant, agent):
    mine = ContactFactory(tenant=tenant)
    theirs = ContactFactory(tenant=other_tenant)

    assert contact_get(principal=agent, pk=mine.pk) == mine
    with pytest.raises(Contact.DoesNotExist):
        contact_get(principal=agent, pk=theirs.pk)
    contact_get(principal=agent, pk=mine.pk, audit=False)

    views = AuditEntry.objects.filter(action="view")
    assert [(v.object_id, v.actor_id) for v in views] == [(str(mine.pk), agent.user.pk)]


def test_organizations_for_is_tenant_scoped(tenant, other_tenant):
    mine = OrganizationFactory(tenant=tenant)
    OrganizationFactory(tenant=other_tenant)
    viewer = principal_for_user(member(tenant, Role.VIEWER))

    assert list(organizations_for(viewer)) == [mine]


def test_losing_a_race_for_an_identity_is_still_a_clear_error(tenant, monkeypatch):
    # given another contact that took the number between our check and our insert
    # (simulated by skipping the check, so the unique constraint has to catch it)
    owner = ContactFactory(tenant=tenant, first_name="Bo", last_name="Holm")
    ContactIdentityFactory(contact=owner, value="+4520123456")
    monkeypatch.setattr("crm.services.contacts._refuse_taken", lambda **kwargs: None)

    # when a contact is created with that number
    with pytest.raises(ValidationError) as error:
        contact_create(tenant=tenant, actor=None, phones=["+4520123456"])

    # then the caller gets the same field error, not an IntegrityError
    assert f"#{owner.pk} (Bo Holm)" in error.value.message_dict["phones"][0]
