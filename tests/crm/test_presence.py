"""Agent presence: the log supervisors read, the event, and what presence does to routing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm.models import Offer, Presence, PresenceLog, WorkItem
from crm.services.presence import agent_set_presence
from crm.services.routing import work_item_enqueue
from crm.tenancy import principal_for_user
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db


def enqueue(queue, channel_kind="voice"):
    return work_item_enqueue(
        tenant_id=queue.tenant_id, queue=queue, kind="call", channel_kind=channel_kind
    )


def test_each_change_closes_the_open_log_row_and_opens_a_new_one(tenant):
    # given an offline agent and a supervisor
    agent = AgentProfileFactory(tenant=tenant)
    supervisor = principal_for_user(member(tenant, "supervisor"))

    # when the agent logs in, takes a break and comes back
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
    agent_set_presence(agent=agent, presence=Presence.BREAK, reason="lunch", actor=supervisor)
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)

    # then the log holds one period per state, only the latest still open, each period ending
    # when the next began
    rows = list(PresenceLog.objects.filter(agent=agent).order_by("started_at", "pk"))
    assert [(r.presence, r.reason) for r in rows] == [
        ("available", ""),
        ("break", "lunch"),
        ("available", ""),
    ]
    assert rows[0].ended_at == rows[1].started_at
    assert rows[1].ended_at == rows[2].started_at
    assert rows[2].ended_at is None
    assert rows[1].changed_by == supervisor.user
    agent.refresh_from_db()
    assert agent.presence == Presence.AVAILABLE
    assert agent.presence_changed_at == rows[2].started_at


def test_only_the_agent_and_staff_of_the_tenant_set_an_agents_presence(tenant, other_tenant):
    # given an agent, a colleague, a supervisor, and a supervisor of another tenant
    agent = AgentProfileFactory(tenant=tenant)
    colleague = principal_for_user(member(tenant, "agent"))
    foreign_supervisor = principal_for_user(member(other_tenant, "supervisor"))

    # when the colleague and the foreign supervisor try, they are refused
    for outsider in (colleague, foreign_supervisor):
        with pytest.raises(PermissionDenied):
            agent_set_presence(agent=agent, presence=Presence.BREAK, actor=outsider)
    agent.refresh_from_db()
    assert agent.presence == Presence.OFFLINE
    assert not PresenceLog.objects.exists()

    # and the agent themselves and the tenant's supervisor may
    himself = principal_for_user(agent.user)
    supervisor = principal_for_user(member(tenant, "supervisor"))
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE, actor=himself)
    agent_set_presence(agent=agent, presence=Presence.BREAK, actor=supervisor)
    assert agent.presence == Presence.BREAK


def test_presence_change_is_published_after_commit(
    tenant, published, django_capture_on_commit_callbacks
):
    agent = AgentProfileFactory(tenant=tenant)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        agent_set_presence(agent=agent, presence=Presence.BREAK, reason="training")
        # nothing leaves before the commit
        assert published == []
    for callback in callbacks:
        callback()

    (event,) = published
    assert event.name == "agent.status_changed"
    assert event.tenant_id == tenant.pk
    assert event.payload["agent_id"] == agent.pk
    assert event.payload["presence"] == "break"
    assert event.payload["previous"] == "offline"
    assert event.payload["reason"] == "training"


def test_setting_the_same_presence_again_changes_nothing(
    tenant, published, django_capture_on_commit_callbacks
):
    agent = AgentProfileFactory(tenant=tenant)
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)

    with django_capture_on_commit_callbacks(execute=True):
        agent_set_presence(agent=agent, presence=Presence.AVAILABLE)

    assert PresenceLog.objects.filter(agent=agent).count() == 1
    assert published == []


def test_unknown_presence_is_refused(tenant):
    agent = AgentProfileFactory(tenant=tenant)

    with pytest.raises(ValidationError):
        agent_set_presence(agent=agent, presence="asleep")
    assert not PresenceLog.objects.exists()


def test_becoming_available_is_offered_waiting_work_at_once(tenant):
    # given two calls and a chat waiting, and an offline agent (voice 1, chat 3)
    queue = QueueFactory(tenant=tenant)
    first, second, chat = enqueue(queue), enqueue(queue), enqueue(queue, "chat")
    agent = AgentProfileFactory(tenant=tenant)
    before = timezone.now()

    # when the agent becomes available
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)

    # then they are offered the oldest call and the chat; the other call keeps waiting;
    # idle time counts from now
    offered = set(
        Offer.objects.filter(agent=agent, status=Offer.Status.PENDING).values_list(
            "work_item_id", flat=True
        )
    )
    assert offered == {first.pk, chat.pk}
    second.refresh_from_db()
    assert second.status == WorkItem.Status.WAITING
    assert agent.last_idle_at >= before


@pytest.mark.parametrize("presence", [Presence.BREAK, Presence.OFFLINE])
def test_going_away_withdraws_pending_offers_and_reroutes_them(
    tenant, presence, published, django_capture_on_commit_callbacks
):
    # given a call offered to the longest-idle of two available agents
    queue = QueueFactory(tenant=tenant)
    leaving = AgentProfileFactory(tenant=tenant)
    staying = AgentProfileFactory(tenant=tenant)
    agent_set_presence(agent=leaving, presence=Presence.AVAILABLE)
    agent_set_presence(agent=staying, presence=Presence.AVAILABLE)
    item = enqueue(queue)
    assert item.agent == leaving

    # when that agent goes away
    with django_capture_on_commit_callbacks(execute=True):
        agent_set_presence(agent=leaving, presence=presence)

    # then the offer is withdrawn (and they are told) and the other agent is offered the call
    first, second = Offer.objects.filter(work_item=item).order_by("pk")
    assert first.status == Offer.Status.WITHDRAWN
    assert (second.agent, second.status) == (staying, Offer.Status.PENDING)
    assert [(e.name, e.agent_user_id) for e in published] == [
        ("agent.status_changed", leaving.user_id),
        ("work.offer_withdrawn", leaving.user_id),
        ("work.offered", staying.user_id),
    ]


def test_busy_agent_gets_no_new_offers_but_keeps_the_ringing_one(tenant):
    # given a call offered to an available agent
    queue = QueueFactory(tenant=tenant)
    agent = AgentProfileFactory(tenant=tenant)
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
    ringing = enqueue(queue, "chat")

    # when they turn busy and more work arrives
    agent_set_presence(agent=agent, presence=Presence.BUSY)
    later = enqueue(queue, "chat")

    # then the ringing offer stands and the new work waits
    assert Offer.objects.get(work_item=ringing).status == Offer.Status.PENDING
    assert later.status == WorkItem.Status.WAITING


def test_the_callers_instance_reflects_the_change(tenant):
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(username="anna"))

    returned = agent_set_presence(agent=agent, presence=Presence.BREAK, reason="coffee")

    assert (agent.presence, agent.presence_reason) == ("break", "coffee")
    assert returned.presence_changed_at == agent.presence_changed_at
