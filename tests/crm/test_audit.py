"""The audit trail of contacts and tickets, and who may read it (crm.selectors.audit)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from crm.models import Role
from crm.selectors.audit import audit_for
from crm.selectors.contacts import contact_get
from crm.services.contacts import contact_create, contact_update
from crm.services.tickets import ticket_create, ticket_transition
from crm.tenancy import principal_for_user
from tests.conftest import member
from tests.crm.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_manager_reads_who_created_changed_and_viewed_a_contact(tenant, agent, manager):
    # given an agent who creates, changes and views a contact
    contact = contact_create(tenant=tenant, actor=agent, first_name="Anna")
    contact_update(contact=contact, actor=agent, first_name="Anne")
    contact_get(principal=agent, pk=contact.pk)

    # when a manager reads the contact's trail
    trail = list(audit_for(manager, object_type="contact", object_id=contact.pk))

    # then it lists each step, newest first, with who did it
    assert [(e.action, e.actor_label) for e in trail] == [
        ("view", "agent"),
        ("update", "agent"),
        ("create", "agent"),
    ]
    assert trail[1].changes == {"first_name": ["Anna", "Anne"]}


def test_ticket_changes_are_on_the_trail(tenant, agent, manager):
    ticket = ticket_create(tenant=tenant, actor=agent, subject="Outage")
    ticket_transition(ticket=ticket, status="open", actor=agent)

    trail = audit_for(manager, object_type="crm.ticket", object_id=str(ticket.pk))

    assert [(e.action, e.changes) for e in trail] == [
        ("update", {"status": ["new", "open"]}),
        ("create", {"number": 1}),
    ]


def test_only_managers_read_the_trail_and_only_of_their_tenants(tenant, other_tenant, agent):
    contact_create(tenant=tenant, actor=agent, first_name="Anna")
    contact_create(tenant=other_tenant, actor=None, first_name="Zofia")
    other_manager = principal_for_user(member(other_tenant, Role.MANAGER))
    supervisor = principal_for_user(member(tenant, Role.SUPERVISOR))
    superuser = principal_for_user(UserFactory(is_superuser=True, is_staff=True))

    for not_a_manager in (agent, supervisor, principal_for_user(None)):
        with pytest.raises(PermissionDenied):
            audit_for(not_a_manager)
    assert [e.object_repr for e in audit_for(other_manager)] == ["Zofia"]
    assert audit_for(superuser).count() == 2


def test_an_api_key_is_named_on_the_trail(tenant):
    from crm.services.api_keys import api_key_create
    from crm.tenancy import principal_for_api_key

    api_key, _ = api_key_create(tenant=tenant, name="erp-sync", role=Role.MANAGER)
    principal = principal_for_api_key(api_key)

    contact_create(tenant=tenant, actor=principal, first_name="Anna")

    entry = audit_for(principal).get()
    assert (entry.actor, entry.actor_label) == (None, "api-key:erp-sync")
