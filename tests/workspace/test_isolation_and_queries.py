"""Tenant isolation of the workspace, and first renders whose query count does not grow."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Presence
from crm.services.presence import agent_set_presence
from crm.services.routing import offer_accept, work_item_enqueue
from crm.services.timeline import timeline_add
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    ContactIdentityFactory,
    QueueFactory,
    TicketFactory,
    WorkItemFactory,
)

pytestmark = pytest.mark.django_db


def _fill_agent_data(*, tenant, agent, queue, n: int) -> None:
    """n tickets, assigned items, pending offers, waiting items, agents and queues."""
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
    agent.capacity = {"voice": 1000}
    agent.save(update_fields=["capacity"])
    for _ in range(n):
        TicketFactory(tenant=tenant, assignee=agent.user, queue=queue)
        call = {"tenant_id": tenant.pk, "queue": queue, "kind": "call", "channel_kind": "voice"}
        item = work_item_enqueue(**call)
        offer_accept(offer=item.offers.get(), agent=agent)
        work_item_enqueue(**call)  # offered to the agent, pending
        WorkItemFactory(tenant=tenant, queue=queue)  # waiting, never routed
        AgentProfileFactory(tenant=tenant)
        QueueFactory(tenant=tenant)


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url_name", ["agent-workspace", "agent-work"])
def test_agent_pages_run_the_same_queries_for_2_and_10_items(
    agent_client, agent_profile, tenant, queue, url_name
):
    _fill_agent_data(tenant=tenant, agent=agent_profile, queue=queue, n=2)
    few = _count_queries(agent_client, reverse(url_name))
    _fill_agent_data(tenant=tenant, agent=agent_profile, queue=queue, n=8)
    many = _count_queries(agent_client, reverse(url_name))
    assert few == many


@pytest.mark.parametrize("url_name", ["supervisor-wallboard", "supervisor-board"])
def test_wallboard_runs_the_same_queries_for_2_and_10_items(
    supervisor_client, tenant, queue, url_name
):
    agent = AgentProfileFactory(tenant=tenant)
    _fill_agent_data(tenant=tenant, agent=agent, queue=queue, n=2)
    few = _count_queries(supervisor_client, reverse(url_name))
    _fill_agent_data(tenant=tenant, agent=agent, queue=queue, n=8)
    many = _count_queries(supervisor_client, reverse(url_name))
    assert few == many


def test_contact_panel_runs_the_same_queries_for_2_and_10_entries(
    agent_client, agent_profile, tenant
):
    contact = ContactFactory(tenant=tenant)
    url = reverse("agent-contact", args=[contact.pk])

    def add(n):
        for i in range(n):
            ContactIdentityFactory(contact=contact)
            timeline_add(tenant_id=tenant.pk, contact=contact, kind="note", summary=f"e{i}")

    add(2)
    few = _count_queries(agent_client, url)
    add(8)
    many = _count_queries(agent_client, url)
    assert few == many


def test_an_agent_never_sees_another_tenants_tickets_or_contacts(
    agent_client, agent_profile, tenant, other_tenant
):
    # given a ticket of another tenant (pointing at our agent's user) and its contact
    their_contact = ContactFactory(tenant=other_tenant, first_name="Zofia")
    their_ticket = TicketFactory(
        tenant=other_tenant, assignee=agent_profile.user, contact=their_contact
    )

    work = agent_client.get(reverse("agent-work")).content.decode()
    panel = agent_client.get(reverse("agent-contact", args=[their_contact.pk]))

    assert f'data-ticket="{their_ticket.pk}"' not in work
    assert panel.status_code == 404


def test_an_agent_of_two_tenants_sees_one_tenant_at_a_time(
    agent_client, agent_profile, tenant, other_tenant
):
    # given the same user is an agent in both tenants, with waiting work in each
    AgentProfileFactory(tenant=other_tenant, user=agent_profile.user)
    mine = TicketFactory(tenant=tenant, assignee=agent_profile.user)
    other = TicketFactory(tenant=other_tenant, assignee=agent_profile.user)

    first = agent_client.get(reverse("agent-work"), {"tenant": tenant.pk}).content.decode()
    second = agent_client.get(reverse("agent-work"), {"tenant": other_tenant.pk}).content.decode()

    assert f'data-ticket="{mine.pk}"' in first
    assert f'data-ticket="{other.pk}"' not in first
    assert f'data-ticket="{other.pk}"' in second
    assert f'data-ticket="{mine.pk}"' not in second
