"""Selectors for agents, queues, the presence log and waiting work (crm.selectors.agents)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Presence, PresenceLog, Role, WorkItem
from crm.selectors.agents import (
    agents_for,
    presence_log_for,
    queue_stats,
    queues_for,
    waiting_work_for,
)
from crm.services.presence import agent_set_presence
from crm.tenancy import principal_for_user
from tests.conftest import member
from tests.crm.factories import (
    AgentProfileFactory,
    AgentSkillFactory,
    QueueFactory,
    WorkItemFactory,
)

pytestmark = pytest.mark.django_db


def principal(tenant, role):
    return principal_for_user(member(tenant, role))


@pytest.mark.parametrize("count", [1, 8])
def test_agents_for_lists_own_tenants_agents_with_skills_in_constant_queries(
    tenant, other_tenant, count, django_assert_num_queries
):
    # given agents with skills in two tenants
    for _ in range(count):
        AgentSkillFactory(agent=AgentProfileFactory(tenant=tenant), level=7)
    AgentProfileFactory(tenant=other_tenant)
    supervisor = principal(tenant, Role.SUPERVISOR)

    # when the supervisor lists agents and reads each one's user, presence and skills
    with django_assert_num_queries(4):
        rows = [
            (a.user.username, a.presence, [(s.skill.name, s.level) for s in a.agent_skills.all()])
            for a in agents_for(supervisor)
        ]

    # then only their tenant's agents are there, the same few queries for any number of them
    assert len(rows) == count
    assert all(presence == Presence.OFFLINE and skills[0][1] == 7 for _, presence, skills in rows)


def test_queues_for_counts_waiting_work_and_hides_other_tenants(tenant, other_tenant):
    queue = QueueFactory(tenant=tenant, name="Support")
    WorkItemFactory(tenant=tenant, queue=queue)
    WorkItemFactory(tenant=tenant, queue=queue)
    WorkItemFactory(tenant=tenant, queue=queue, status=WorkItem.Status.DONE)
    QueueFactory(tenant=other_tenant)

    queues = list(queues_for(principal(tenant, Role.AGENT)))

    assert [(q.name, q.waiting_count) for q in queues] == [("Support", 2)]


def test_presence_log_is_the_tenants_for_supervisors_and_ones_own_for_agents(tenant, other_tenant):
    # given two agents of this tenant and one of another, each logged in once
    anna = AgentProfileFactory(tenant=tenant)
    bo = AgentProfileFactory(tenant=tenant)
    foreign = AgentProfileFactory(tenant=other_tenant)
    for agent in (anna, bo, foreign):
        agent_set_presence(agent=agent, presence=Presence.AVAILABLE)

    supervisor = principal(tenant, Role.SUPERVISOR)
    as_anna = principal_for_user(anna.user)
    viewer = principal(tenant, Role.VIEWER)

    # then the supervisor reads both of their agents, Anna only herself, a viewer nothing
    assert {r.agent for r in presence_log_for(principal=supervisor)} == {anna, bo}
    assert {r.agent for r in presence_log_for(principal=as_anna)} == {anna}
    assert list(presence_log_for(principal=viewer)) == []
    assert {r.agent for r in presence_log_for(principal=supervisor, agent=bo)} == {bo}


def test_presence_log_since_keeps_periods_still_running_then(tenant):
    # given a period that ended an hour ago and one still open
    agent = AgentProfileFactory(tenant=tenant)
    now = timezone.now()
    PresenceLog.objects.create(
        tenant=tenant,
        agent=agent,
        presence=Presence.BREAK,
        started_at=now - timedelta(hours=3),
        ended_at=now - timedelta(hours=1),
    )
    PresenceLog.objects.create(
        tenant=tenant, agent=agent, presence=Presence.AVAILABLE, started_at=now - timedelta(hours=1)
    )
    supervisor = principal(tenant, Role.SUPERVISOR)

    recent = presence_log_for(principal=supervisor, since=now - timedelta(minutes=30))
    wider = presence_log_for(principal=supervisor, since=now - timedelta(hours=2))

    assert [r.presence for r in recent] == ["available"]
    assert [r.presence for r in wider] == ["available", "break"]


def test_waiting_work_is_listed_in_serving_order_and_scoped(tenant, other_tenant):
    plain = QueueFactory(tenant=tenant, priority=0)
    vip = QueueFactory(tenant=tenant, priority=2)
    now = timezone.now()
    old = WorkItemFactory(tenant=tenant, queue=plain, enqueued_at=now - timedelta(minutes=9))
    new = WorkItemFactory(tenant=tenant, queue=plain, enqueued_at=now - timedelta(minutes=1))
    urgent = WorkItemFactory(tenant=tenant, queue=vip, enqueued_at=now)
    WorkItemFactory(tenant=tenant, queue=plain, status=WorkItem.Status.ASSIGNED)
    WorkItemFactory(tenant=other_tenant)
    who = principal(tenant, Role.SUPERVISOR)

    assert list(waiting_work_for(principal=who)) == [urgent, old, new]
    assert list(waiting_work_for(principal=who, queue=plain)) == [old, new]


def test_queue_stats_counts_and_longest_wait(tenant, django_assert_num_queries):
    queue = QueueFactory(tenant=tenant)
    now = timezone.now()
    WorkItemFactory(tenant=tenant, queue=queue, enqueued_at=now - timedelta(seconds=90))
    WorkItemFactory(tenant=tenant, queue=queue, enqueued_at=now - timedelta(seconds=10))
    WorkItemFactory(tenant=tenant, queue=queue, status=WorkItem.Status.OFFERED)
    WorkItemFactory(tenant=tenant, queue=queue, status=WorkItem.Status.ASSIGNED)
    WorkItemFactory(tenant=tenant, queue=queue, status=WorkItem.Status.DONE)

    with django_assert_num_queries(1):
        stats = queue_stats(queue=queue, now=now)

    assert (stats.waiting, stats.offered, stats.assigned) == (2, 1, 1)
    assert stats.longest_wait_seconds == pytest.approx(90, abs=1)


def test_queue_stats_of_an_empty_queue(tenant):
    stats = queue_stats(queue=QueueFactory(tenant=tenant))

    assert (stats.waiting, stats.longest_wait_seconds, stats.oldest_waiting_since) == (0, 0.0, None)
