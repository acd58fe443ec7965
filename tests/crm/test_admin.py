"""The manager's admin screens: choices, permissions, the audit trail, and writes through the
services (ticket numbers, identity normalisation, API keys shown once)."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.urls import reverse

from crm import models as m
from crm.services.api_keys import api_key_create, hash_api_key
from tests.conftest import member
from tests.crm.factories import (
    ContactFactory,
    QueueFactory,
    SkillFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def form_data(response) -> dict[str, Any]:
    """The POST data of an admin add/change page as rendered: the main form, every inline's
    management form and rows. Tests change what they need and post it back."""
    data: dict[str, Any] = {}

    def take(form) -> None:
        for bound in form:
            value = bound.value()
            if value is None:
                continue
            if bound.field.show_hidden_initial:
                # Fields with a callable default post their initial value too, as browsers do.
                data[bound.html_initial_name] = value
            if isinstance(bound.field, forms.JSONField):
                data[bound.html_name] = value  # already JSON text
            elif isinstance(value, list | tuple):
                data[bound.html_name] = [str(v) for v in value]
            elif isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            else:
                data[bound.html_name] = str(value)

    take(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        take(formset.management_form)
        for form in formset.forms:
            take(form)
    return data


def add_inline_row(data: dict[str, Any], prefix: str, **values: str) -> None:
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    for name, value in values.items():
        data[f"{prefix}-{index}-{name}"] = value
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)


@pytest.fixture
def manager(tenant):
    return member(tenant, m.Role.MANAGER, user=UserFactory(username="boss", is_staff=True))


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def url(model, action: str, *args) -> str:
    return reverse(f"admin:crm_{model._meta.model_name}_{action}", args=args)


# --- access and permissions ----------------------------------------------------------------


def test_a_manager_without_staff_status_cannot_enter_the_admin(client, tenant):
    # given a manager who is not staff
    user = member(tenant, m.Role.MANAGER, user=UserFactory(username="nostaff"))
    client.force_login(user)

    # when they open the admin, then they are sent to the admin login
    response = client.get(url(m.Queue, "changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_supervisor_reads_configuration_but_cannot_change_it(client, tenant):
    # given a staff supervisor and a queue of their tenant
    supervisor = member(tenant, m.Role.SUPERVISOR, user=UserFactory(is_staff=True))
    queue = QueueFactory(tenant=tenant, name="Kundeservice", max_wait_seconds=300)
    client.force_login(supervisor)

    # when they open the queue and try to save a change
    page = client.get(url(m.Queue, "change", queue.pk))
    posted = client.post(url(m.Queue, "change", queue.pk), {"name": "Hacked"})

    # then they can read it, the save is forbidden and nothing changed
    assert page.status_code == 200
    assert "Kundeservice" in page.content.decode()
    assert posted.status_code == 403
    queue.refresh_from_db()
    assert queue.name == "Kundeservice"
    assert client.get(url(m.Queue, "add")).status_code == 403


def test_only_managers_read_the_audit_trail(client, tenant):
    supervisor = member(tenant, m.Role.SUPERVISOR, user=UserFactory(is_staff=True))
    client.force_login(supervisor)
    assert client.get(url(m.AuditEntry, "changelist")).status_code == 403


def test_the_tenant_field_offers_only_tenants_the_user_manages(client, tenant, other_tenant):
    # given a user managing one tenant and supervising another
    user = member(tenant, m.Role.MANAGER, user=UserFactory(is_staff=True))
    member(other_tenant, m.Role.SUPERVISOR, user=user)
    client.force_login(user)

    # when they open the "add queue" page
    response = client.get(url(m.Queue, "add"))

    # then only the managed tenant is offered, and preselected
    form = response.context["adminform"].form
    assert list(form.fields["tenant"].queryset) == [tenant]
    assert form.initial["tenant"] == tenant.pk


def test_related_choices_offer_only_visible_tenants_rows(manager_client, tenant, other_tenant):
    # given skills in both tenants
    mine = SkillFactory(tenant=tenant, name="dansk")
    SkillFactory(tenant=other_tenant, name="polski")

    # when the manager opens the "add queue" page
    response = manager_client.get(url(m.Queue, "add"))

    # then only their tenant's skills can be required
    form = response.context["adminform"].form
    assert list(form.fields["required_skills"].queryset) == [mine]


def test_linking_rows_of_two_tenants_is_refused(client, tenant, other_tenant):
    # given a manager of both tenants
    user = member(tenant, m.Role.MANAGER, user=UserFactory(is_staff=True))
    member(other_tenant, m.Role.MANAGER, user=user)
    foreign_skill = SkillFactory(tenant=other_tenant, name="polski")
    client.force_login(user)

    # when they create a queue in the first tenant requiring the other tenant's skill
    response = client.post(
        url(m.Queue, "add"),
        {
            "tenant": tenant.pk,
            "name": "Salg",
            "channel_kinds": '["voice"]',
            "required_skills": [foreign_skill.pk],
            "priority": 0,
            "max_wait_seconds": 300,
        },
    )

    # then the form says why and no queue exists
    assert response.status_code == 200
    assert "belongs to another tenant" in response.content.decode()
    assert not m.Queue.objects.filter(name="Salg").exists()


# --- audit trail ------------------------------------------------------------------------------


def test_add_change_and_delete_are_audited_with_the_changed_fields(manager_client, tenant, manager):
    # when the manager adds a queue, changes its max wait and deletes it
    manager_client.post(
        url(m.Queue, "add"),
        {
            "tenant": tenant.pk,
            "name": "Kundeservice",
            "channel_kinds": '["voice", "chat"]',
            "priority": 1,
            "max_wait_seconds": 300,
        },
    )
    queue = m.Queue.objects.get(name="Kundeservice")
    data = form_data(manager_client.get(url(m.Queue, "change", queue.pk)))
    data["max_wait_seconds"] = "120"
    manager_client.post(url(m.Queue, "change", queue.pk), data)
    manager_client.post(url(m.Queue, "delete", queue.pk), {"post": "yes"})

    # then the audit trail has all three, by the manager, with field names and new values
    entries = list(
        m.AuditEntry.objects.filter(object_type="crm.queue", object_id=str(queue.pk)).order_by("id")
    )
    assert [e.action for e in entries] == ["create", "update", "delete"]
    assert all(e.actor == manager and e.tenant_id == tenant.pk for e in entries)
    assert entries[0].changes["name"] == "Kundeservice"
    assert entries[1].changes == {"max_wait_seconds": 120}
    assert not m.Queue.objects.filter(pk=queue.pk).exists()


def test_inline_rows_are_audited_and_take_the_parents_tenant(manager_client, tenant):
    # given business hours without rules
    hours = m.BusinessHours.objects.create(tenant=tenant, name="Hverdage")
    data = form_data(manager_client.get(url(m.BusinessHours, "change", hours.pk)))

    # when the manager adds a Monday rule and a holiday
    add_inline_row(data, "rules", weekday="0", opens="08:00", closes="16:00")
    add_inline_row(data, "holidays", date="2026-12-24", name="Juleaften")
    response = manager_client.post(url(m.BusinessHours, "change", hours.pk), data)

    # then both exist and each is on the tenant's audit trail
    assert response.status_code == 302
    rule = hours.rules.get()
    assert str(rule) == "Mon 08:00-16:00"
    assert hours.holidays.get().name == "Juleaften"
    entry = m.AuditEntry.objects.get(object_type="crm.businesshoursrule")
    assert entry.action == "create"
    assert entry.tenant_id == tenant.pk
    assert entry.changes["weekday"] == 0


def test_bulk_delete_skips_rows_the_user_may_only_read(client, tenant, other_tenant):
    # given a manager of one tenant who supervises another
    user = member(tenant, m.Role.MANAGER, user=UserFactory(is_staff=True))
    member(other_tenant, m.Role.SUPERVISOR, user=user)
    mine = SkillFactory(tenant=tenant)
    theirs = SkillFactory(tenant=other_tenant)
    client.force_login(user)

    def delete(*skills: m.Skill) -> None:
        client.post(
            url(m.Skill, "changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [s.pk for s in skills],
                "post": "yes",
            },
        )

    # when they select both in the changelist and delete them
    delete(mine, theirs)

    # then the supervised tenant's skill is untouched
    assert m.Skill.objects.filter(pk=theirs.pk).exists()

    # and their own tenant's skill can be deleted on its own
    delete(mine)
    assert not m.Skill.objects.filter(pk=mine.pk).exists()


# --- writes through the services -----------------------------------------------------------


def test_a_ticket_added_in_the_admin_is_numbered_by_the_service(manager_client, tenant):
    # given a tenant whose last ticket was number 7
    TicketFactory(tenant=tenant, number=7)
    m.Tenant.objects.filter(pk=tenant.pk).update(last_ticket_number=7)
    contact = ContactFactory(tenant=tenant)
    data = form_data(manager_client.get(url(m.Ticket, "add")))
    data.update(subject="Regning for høj", contact=str(contact.pk), priority="3")

    # when the manager adds a ticket
    response = manager_client.post(url(m.Ticket, "add"), data)

    # then it gets the next number, starts new, and lands on the contact's timeline
    assert response.status_code == 302
    ticket = m.Ticket.objects.get(subject="Regning for høj")
    assert ticket.number == 8
    assert ticket.status == m.TicketStatus.NEW
    assert contact.timeline.filter(kind="ticket.created", ticket=ticket).exists()
    assert m.AuditEntry.objects.filter(object_type="crm.ticket", action="create").count() == 1


def test_a_forbidden_status_change_is_refused_with_the_allowed_ones(manager_client, tenant):
    # given a closed ticket
    ticket = TicketFactory(tenant=tenant, status=m.TicketStatus.CLOSED)
    data = form_data(manager_client.get(url(m.Ticket, "change", ticket.pk)))

    # when the manager tries to reopen it
    data["status"] = m.TicketStatus.OPEN
    response = manager_client.post(url(m.Ticket, "change", ticket.pk), data)

    # then the form explains, and the ticket stays closed
    assert response.status_code == 200
    assert "can become: nothing" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == m.TicketStatus.CLOSED


def test_an_allowed_status_change_and_a_note_go_through_the_services(
    manager_client, tenant, manager
):
    # given a new ticket
    ticket = TicketFactory(tenant=tenant)
    data = form_data(manager_client.get(url(m.Ticket, "change", ticket.pk)))

    # when the manager solves it and adds a note
    data["status"] = m.TicketStatus.SOLVED
    add_inline_row(data, "notes", body="Kunden har fået svar.")
    response = manager_client.post(url(m.Ticket, "change", ticket.pk), data)

    # then the status moved with its timestamp, and the note is by the manager on the timeline
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == m.TicketStatus.SOLVED
    assert ticket.resolved_at is not None
    note = ticket.notes.get()
    assert note.author == manager
    assert note.tenant_id == tenant.pk
    kinds = set(ticket.timeline.values_list("kind", flat=True))
    assert {"ticket.status_changed", "note.added"} <= kinds


def test_contact_identities_added_in_the_admin_are_normalised(manager_client, tenant):
    # given the "add contact" page
    data = form_data(manager_client.get(url(m.Contact, "add")))
    data.update(first_name="Søren", last_name="Kjær")

    # when the manager adds a contact with a local phone number and a mixed-case email
    add_inline_row(data, "identities", kind="phone", value="20 12 34 56")
    add_inline_row(data, "identities", kind="email", value="Soren@Example.DK")
    response = manager_client.post(url(m.Contact, "add"), data)

    # then the contact exists with E.164 and lower-cased identities, on its timeline
    assert response.status_code == 302, response.context["errors"]
    contact = m.Contact.objects.get(last_name="Kjær")
    values = set(contact.identities.values_list("kind", "value"))
    assert values == {("phone", "+4520123456"), ("email", "soren@example.dk")}
    assert contact.timeline.filter(kind="contact.created").exists()


def test_erasing_a_contact_also_clears_the_admins_own_history_of_it(manager_client, tenant):
    # given a contact and a ticket added in the admin, whose history pages quote them
    from django.contrib.admin.models import LogEntry

    from crm.services.privacy import contact_erase

    data = form_data(manager_client.get(url(m.Contact, "add")))
    data.update(first_name="Søren", last_name="Kjær")
    add_inline_row(data, "identities", kind="phone", value="20 12 34 56")
    manager_client.post(url(m.Contact, "add"), data)
    contact = m.Contact.objects.get(last_name="Kjær")
    data = form_data(manager_client.get(url(m.Ticket, "add")))
    data.update(subject="Søren Kjær moves to Vejle", contact=str(contact.pk))
    manager_client.post(url(m.Ticket, "add"), data)
    manager_client.get(reverse("admin:index"))  # shows (and so drops) the "was added" messages
    assert LogEntry.objects.count() == 2

    # when the contact is erased
    contact_erase(contact=contact, actor=None)

    # then neither history page quotes the name, the number or the ticket's subject
    for page in (
        url(m.Contact, "history", contact.pk),
        url(m.Ticket, "history", m.Ticket.objects.get().pk),
    ):
        body = manager_client.get(page).content.decode()
        assert "Kjær" not in body
        assert "+4520123456" not in body
    assert LogEntry.objects.count() == 2  # who did what and when is kept


def test_an_identity_another_contact_holds_is_refused(manager_client, tenant):
    # given a contact holding a number
    holder = ContactFactory(tenant=tenant, first_name="Anna")
    m.ContactIdentity.objects.create(
        tenant=tenant, contact=holder, kind="phone", value="+4520123456"
    )
    contact = ContactFactory(tenant=tenant)
    data = form_data(manager_client.get(url(m.Contact, "change", contact.pk)))

    # when the manager gives that number, written differently, to another contact
    add_inline_row(data, "identities", kind="phone", value="+45 2012 3456")
    response = manager_client.post(url(m.Contact, "change", contact.pk), data)

    # then the form names the holder and nothing was added
    assert response.status_code == 200
    assert f"contact #{holder.pk}" in response.content.decode()
    assert not contact.identities.exists()


def test_an_api_key_is_shown_once_and_can_be_revoked(manager_client, tenant):
    # when the manager creates a key
    response = manager_client.post(
        url(m.ApiKey, "add"),
        {"tenant": tenant.pk, "name": "Webshop", "role": m.Role.AGENT},
        follow=True,
    )

    # then the plain key is in a message once, and only its hash is stored
    shown = [str(msg) for msg in get_messages(response.wsgi_request)] or [
        str(msg) for msg in response.context["messages"]
    ]
    key_text = next(text for text in shown if "cc_" in text)
    plain = next(word for word in key_text.split() if word.startswith("cc_"))
    api_key = m.ApiKey.objects.get(name="Webshop")
    assert api_key.hashed_key == hash_api_key(plain)
    assert api_key.created_by is not None

    # and the key's page shows the prefix, never the key
    page = manager_client.get(url(m.ApiKey, "change", api_key.pk)).content.decode()
    assert api_key.prefix in page
    assert plain not in page

    # when it is revoked with the action
    manager_client.post(
        url(m.ApiKey, "changelist"),
        {"action": "revoke_keys", "_selected_action": [api_key.pk]},
    )

    # then it is revoked and the revocation is audited
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert m.AuditEntry.objects.filter(
        object_type="crm.apikey", action="update", changes__has_key="revoked_at"
    ).exists()
    creation = m.AuditEntry.objects.get(object_type="crm.apikey", action="create")
    assert "hashed_key" not in creation.changes
    assert plain not in str(creation.changes)


def test_revoking_another_tenants_key_through_the_action_does_nothing(manager_client, other_tenant):
    theirs, _ = api_key_create(tenant=other_tenant, name="Their CRM")
    manager_client.post(
        url(m.ApiKey, "changelist"),
        {"action": "revoke_keys", "_selected_action": [theirs.pk]},
    )
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_a_manager_creates_an_agent_login_for_their_tenant(manager_client, tenant):
    # given the "add user" page
    data = form_data(manager_client.get(url(m.User, "add")))
    data.update(
        username="ny-agent",
        password1="demo-pass-123-long",
        password2="demo-pass-123-long",
        usable_password="true",
    )

    # when the manager adds a user with an agent membership (the one row the page requires)
    assert data["memberships-MIN_NUM_FORMS"] == "1"
    data.update({"memberships-0-tenant": str(tenant.pk), "memberships-0-role": m.Role.AGENT})
    response = manager_client.post(url(m.User, "add"), data)

    # then the user exists in the tenant, and no password reached the audit trail
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [f.errors for f in response.context["inline_admin_formsets"][0].formset.forms],
    )
    user = m.User.objects.get(username="ny-agent")
    assert user.memberships.get().tenant == tenant
    assert not user.is_superuser
    for entry in m.AuditEntry.objects.all():
        assert "demo-pass-123-long" not in str(entry.changes)


def test_a_manager_cannot_change_a_user_who_also_serves_another_tenant(
    manager_client, tenant, other_tenant
):
    # given an agent serving both tenants
    shared = member(tenant, m.Role.AGENT, user=UserFactory(username="shared"))
    member(other_tenant, m.Role.AGENT, user=shared)

    # when the manager of one tenant tries to make them staff
    response = manager_client.post(url(m.User, "change", shared.pk), {"is_staff": "on"})

    # then it is refused: that would reach into the other tenant
    assert response.status_code == 403
    shared.refresh_from_db()
    assert not shared.is_staff


# --- every page renders ------------------------------------------------------------------------


@pytest.mark.parametrize("as_superuser", [False, True], ids=["manager", "superuser"])
def test_every_admin_page_renders(client, tenant, manager, as_superuser):
    from django.contrib import admin

    from tests.crm.test_admin_isolation import BUILDERS, CRM_MODELS

    # given one row of every model in the manager's tenant
    rows = {model: BUILDERS[model](tenant) for model in CRM_MODELS}
    user = (
        UserFactory(username="root", is_staff=True, is_superuser=True) if as_superuser else manager
    )
    client.force_login(user)

    # when every changelist, change page and (where allowed) add page is opened,
    # then each renders
    assert client.get(reverse("admin:index")).status_code == 200
    for model in CRM_MODELS:
        model_admin = admin.site._registry[model]
        pages = [url(model, "changelist"), url(model, "change", rows[model].pk)]
        request = client.get(url(model, "changelist")).wsgi_request
        if model_admin.has_add_permission(request):
            pages.append(url(model, "add"))
        for page in pages:
            response = client.get(page)
            assert response.status_code == 200, (page, response.status_code)


def test_autocomplete_offers_only_the_users_tenants_rows(manager_client, tenant, other_tenant):
    # given a contact in each tenant with the same last name
    mine = ContactFactory(tenant=tenant, last_name="Hansen")
    ContactFactory(tenant=other_tenant, last_name="Hansen")

    # when the manager searches contacts for a ticket's contact field
    response = manager_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "crm", "model_name": "ticket", "field_name": "contact", "term": "Hansen"},
    )

    # then only their tenant's contact is offered
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(mine.pk)]


def test_a_ticket_number_search_keeps_the_changelists_filters(manager_client, tenant):
    # given ticket #7, which is new, and a closed ticket
    new = TicketFactory(tenant=tenant, number=7, subject="Router broken")
    closed = TicketFactory(tenant=tenant, number=8, subject="Invoice", status="closed")

    # when the manager searches the closed tickets for "#7", and all tickets for "#7"
    filtered = manager_client.get(url(m.Ticket, "changelist"), {"status": "closed", "q": "#7"})
    unfiltered = manager_client.get(url(m.Ticket, "changelist"), {"q": "#7"})

    # then the filter holds (no match), and without it the number finds the ticket
    assert list(filtered.context["cl"].result_list) == []
    assert list(unfiltered.context["cl"].result_list) == [new]
    assert closed not in unfiltered.context["cl"].result_list


def test_a_note_for_one_contact_on_anothers_ticket_is_refused_on_the_page(manager_client, tenant):
    # given a ticket of one contact, and another contact
    ticket = TicketFactory(tenant=tenant)
    other = ContactFactory(tenant=tenant, last_name="Holm")

    # when the manager adds a note naming the ticket and the other contact
    response = manager_client.post(
        url(m.Note, "add"),
        {"tenant": tenant.pk, "ticket": ticket.pk, "contact": other.pk, "body": "Rang"},
    )

    # then the page says why, and no note was written
    assert response.status_code == 200
    assert "The ticket belongs to another contact." in response.content.decode()
    assert not m.Note.objects.exists()


def test_a_manager_exports_contacts_from_the_changelist_and_a_supervisor_cannot(
    manager_client, client, tenant
):
    # given a contact with a phone
    contact = ContactFactory(tenant=tenant, first_name="Karen")
    m.ContactIdentity.objects.create(
        tenant=tenant, contact=contact, kind="phone", value="+4520123456"
    )
    action = {"action": "export_json", "_selected_action": [contact.pk]}

    # when the manager runs the export action
    response = manager_client.post(url(m.Contact, "changelist"), action)

    # then a JSON file with the contact's data is downloaded, and the export is audited
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="contacts-export.json"'
    (exported,) = response.json()
    assert exported["contact"]["first_name"] == "Karen"
    assert [i["value"] for i in exported["identities"]] == ["+4520123456"]
    assert m.AuditEntry.objects.filter(action="export", object_id=str(contact.pk)).count() == 1

    # and a staff supervisor, who may read contacts, is not offered the action
    supervisor = member(tenant, m.Role.SUPERVISOR, user=UserFactory(is_staff=True))
    client.force_login(supervisor)
    refused = client.post(url(m.Contact, "changelist"), action)
    assert refused.status_code == 200
    assert "Content-Disposition" not in refused
    assert m.AuditEntry.objects.filter(action="export").count() == 1


def test_a_password_set_in_the_admin_is_audited_without_its_value(manager_client, tenant):
    # given an agent of the manager's tenant
    agent = member(tenant, m.Role.AGENT, user=UserFactory(username="agent-x"))

    # when the manager sets a new password for them
    response = manager_client.post(
        reverse("admin:auth_user_password_change", args=[agent.pk]),
        {"password1": "Nyt-kodeord-2026", "password2": "Nyt-kodeord-2026"},
    )

    # then the password works, and the audit trail says it changed but not to what
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password("Nyt-kodeord-2026")
    entry = m.AuditEntry.objects.get(object_type="crm.user", object_id=str(agent.pk))
    assert entry.changes == {"password": "changed"}
    assert entry.tenant_id == tenant.pk


def test_bulk_deleting_users_spares_those_serving_another_tenant(
    manager_client, tenant, other_tenant
):
    # given an agent of the manager's tenant and one shared with another tenant
    own = member(tenant, m.Role.AGENT, user=UserFactory(username="own"))
    shared = member(tenant, m.Role.AGENT, user=UserFactory(username="shared"))
    member(other_tenant, m.Role.AGENT, user=shared)

    def delete(*users: m.User) -> None:
        manager_client.post(
            url(m.User, "changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [u.pk for u in users],
                "post": "yes",
            },
        )

    # when the manager deletes both, then the shared one survives
    delete(own, shared)
    assert m.User.objects.filter(pk=shared.pk).exists()

    # and their own agent can be deleted
    delete(own)
    assert not m.User.objects.filter(pk=own.pk).exists()
    assert m.AuditEntry.objects.filter(
        object_type="crm.user", object_id=str(own.pk), action="delete"
    ).exists()


def test_one_number_typed_twice_for_a_new_contact_is_refused(manager_client, tenant):
    # given the "add contact" page with one number written two ways
    data = form_data(manager_client.get(url(m.Contact, "add")))
    data.update(first_name="Ole", last_name="Bæk")
    add_inline_row(data, "identities", kind="phone", value="20 12 34 56")
    add_inline_row(data, "identities", kind="phone", value="+45 2012 3456")

    # when it is saved
    response = manager_client.post(url(m.Contact, "add"), data)

    # then the page says so and no contact was created
    assert response.status_code == 200
    assert "+4520123456 is listed twice" in response.content.decode()
    assert not m.Contact.objects.filter(last_name="Bæk").exists()


def test_an_inline_row_linking_another_tenants_row_is_refused(client, tenant, other_tenant):
    # given a manager of both tenants and an agent login in the first
    user = member(tenant, m.Role.MANAGER, user=UserFactory(is_staff=True))
    member(other_tenant, m.Role.MANAGER, user=user)
    agent_user = member(tenant, m.Role.AGENT, user=UserFactory(username="ny"))
    foreign_skill = SkillFactory(tenant=other_tenant, name="polski")
    client.force_login(user)
    data = form_data(client.get(url(m.AgentProfile, "add")))
    data.update(tenant=str(tenant.pk), user=str(agent_user.pk))

    # when they add the agent profile in the first tenant with the other tenant's skill
    add_inline_row(data, "agent_skills", skill=str(foreign_skill.pk), level="7")
    response = client.post(url(m.AgentProfile, "add"), data)

    # then the row is refused and no profile exists
    assert response.status_code == 200
    assert "belongs to another tenant" in response.content.decode()
    assert not m.AgentProfile.objects.filter(user=agent_user).exists()
