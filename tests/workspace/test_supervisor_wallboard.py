"""The supervisor wallboard (/supervisor/): who may open it and what it counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Presence, Role
from crm.services.presence import agent_set_presence
from crm.services.routing import work_item_enqueue
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, QueueFactory, UserFactory, WorkItemFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT])
def test_viewers_and_agents_cannot_open_the_wallboard(client, tenant, role):
    client.force_login(member(tenant, role))
    assert client.get(reverse("supervisor-wallboard")).status_code == 403
    assert client.get(reverse("supervisor-board")).status_code == 403


def test_manager_may_open_it(client, manager_user):
    client.force_login(manager_user)
    assert client.get(reverse("supervisor-wallboard")).status_code == 200


def test_a_tenant_not_supervised_is_refused(supervisor_client, other_tenant):
    url = reverse("supervisor-wallboard")
    assert supervisor_client.get(url, {"tenant": other_tenant.pk}).status_code == 403


def test_wallboard_counts_waiting_work_longest_wait_and_agents_in_state(
    supervisor_client, tenant, queue
):
    # given two items waiting (the oldest for five minutes) and one agent on a break
    WorkItemFactory(tenant=tenant, queue=queue, enqueued_at=timezone.now() - timedelta(minutes=5))
    WorkItemFactory(tenant=tenant, queue=queue)
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(username="ida"))
    agent_set_presence(agent=agent, presence=Presence.BREAK, reason="Lunch")

    # when the supervisor opens the wallboard
    html = supervisor_client.get(reverse("supervisor-wallboard")).content.decode()

    # then
    row = html[html.index(f'data-queue="{queue.pk}"') :]
    assert '<td class="num big">2</td>' in row[:400]
    assert 'data-seconds="30' in row[:400]  # 300 s, give or take the test's own run time
    agent_row = html[html.index(f'data-agent="{agent.pk}"') :][:600]
    assert "Break" in agent_row
    assert "Lunch" in agent_row
    assert html.count("data-work-item=") == 2


def test_wallboard_never_shows_another_tenants_agents_queues_or_work(
    supervisor_client, tenant, other_tenant
):
    # given another tenant with a queue, waiting work and an agent
    theirs = QueueFactory(tenant=other_tenant, name="Their queue")
    item = WorkItemFactory(tenant=other_tenant, queue=theirs)
    their_agent = AgentProfileFactory(tenant=other_tenant)

    html = supervisor_client.get(reverse("supervisor-wallboard")).content.decode()

    assert "Their queue" not in html
    assert f'data-work-item="{item.pk}"' not in html
    assert f'data-agent="{their_agent.pk}"' not in html


def test_presence_change_is_visible_on_the_board_fragment(supervisor_client, tenant, queue):
    agent = AgentProfileFactory(tenant=tenant)
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
    work_item_enqueue(tenant_id=tenant.pk, queue=queue, kind="call", channel_kind="voice")

    html = supervisor_client.get(reverse("supervisor-board")).content.decode()

    agent_row = html[html.index(f'data-agent="{agent.pk}"') :][:600]
    assert "Available" in agent_row
    assert '<td class="num">1</td>' in agent_row  # the offer holds one unit of work
