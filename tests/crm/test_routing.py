"""The routing engine: who gets offered what, in which order, and what happens to offers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import ChannelKind, Membership, Offer, Presence, WorkItem
from crm.services.routing import (
    OfferExpired,
    OfferNotPending,
    OfferNotYours,
    agent_route,
    offer_accept,
    offer_decline,
    offers_expire,
    work_item_cancel,
    work_item_enqueue,
    work_item_finish,
    work_route,
    work_route_waiting,
)
from crm.tasks import expire_offers, route_work_item
from tests.crm.factories import (
    AgentProfileFactory,
    AgentSkillFactory,
    QueueFactory,
    SkillFactory,
    WorkItemFactory,
)

pytestmark = pytest.mark.django_db


def make_agent(tenant, *, idle_minutes=0, capacity=None, skills=None, presence=None, queues=()):
    agent = AgentProfileFactory(
        tenant=tenant,
        presence=presence or Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=idle_minutes),
        capacity=capacity or {},
    )
    for skill, level in (skills or {}).items():
        AgentSkillFactory(agent=agent, skill=skill, level=level)
    if queues:
        agent.queues.set(queues)
    return agent


def enqueue(queue, *, channel_kind=ChannelKind.VOICE, priority=0, ref_id=""):
    return work_item_enqueue(
        tenant_id=queue.tenant_id,
        queue=queue,
        kind=WorkItem.Kind.CALL
        if channel_kind == ChannelKind.VOICE
        else WorkItem.Kind.CONVERSATION,
        channel_kind=channel_kind,
        ref_type="test.thing",
        ref_id=ref_id,
        priority=priority,
    )


def pending_offer(item):
    return Offer.objects.get(work_item=item, status=Offer.Status.PENDING)


def test_enqueued_item_is_offered_to_the_longest_idle_available_agent(tenant):
    # given three agents, the longest idle of whom is offline
    queue = QueueFactory(tenant=tenant)
    make_agent(tenant, idle_minutes=10)
    longest_available = make_agent(tenant, idle_minutes=30)
    make_agent(tenant, idle_minutes=60, presence=Presence.OFFLINE)

    # when a call is queued
    item = enqueue(queue)

    # then it is offered at once to the longest-idle *available* agent, for the configured time
    assert item.status == WorkItem.Status.OFFERED
    assert item.agent == longest_available
    offer = pending_offer(item)
    assert offer.agent == longest_available
    assert offer.expires_at - offer.offered_at == timedelta(seconds=20)


def test_only_an_agent_with_every_required_skill_is_offered_the_item(tenant):
    # given a queue needing billing and Danish, and an idler agent with billing only
    billing, danish = SkillFactory(tenant=tenant, name="billing"), SkillFactory(tenant=tenant)
    queue = QueueFactory(tenant=tenant)
    queue.required_skills.set([billing, danish])
    make_agent(tenant, idle_minutes=60, skills={billing: 10})
    both = make_agent(tenant, idle_minutes=1, skills={billing: 2, danish: 2})

    # when a call is queued
    item = enqueue(queue)

    # then the agent holding both skills gets it
    assert item.agent == both


def test_item_waits_when_no_agent_has_the_skills(tenant):
    queue = QueueFactory(tenant=tenant)
    queue.required_skills.set([SkillFactory(tenant=tenant)])
    make_agent(tenant)

    item = enqueue(queue)

    assert item.status == WorkItem.Status.WAITING
    assert item.agent is None
    assert not Offer.objects.exists()


def test_higher_skill_level_in_the_queues_skills_breaks_a_tie_in_idle_time(tenant):
    # given two agents idle since the same moment; one is better at the queue's skills, the
    # other has a high level in a skill the queue does not need
    billing, french, chess = (SkillFactory(tenant=tenant) for _ in range(3))
    queue = QueueFactory(tenant=tenant)
    queue.required_skills.set([billing, french])
    since = timezone.now() - timedelta(minutes=5)
    weaker = make_agent(tenant, skills={billing: 3, french: 3, chess: 10})
    stronger = make_agent(tenant, skills={billing: 5, french: 4})
    type(weaker).objects.filter(pk__in=[weaker.pk, stronger.pk]).update(last_idle_at=since)

    # when a call is queued
    item = enqueue(queue)

    # then the stronger agent gets it (9 > 6; the unrelated skill does not count)
    assert item.agent == stronger


def test_agent_full_on_a_channel_is_skipped_for_it_but_not_for_other_channels(tenant):
    # given the longest-idle agent already on a call (voice capacity 1, chat capacity 2)
    queue = QueueFactory(tenant=tenant)
    busy = make_agent(tenant, idle_minutes=60, capacity={"voice": 1, "chat": 2})
    free = make_agent(tenant, idle_minutes=1)
    WorkItemFactory(tenant=tenant, queue=queue, status=WorkItem.Status.ASSIGNED, agent=busy)

    # when a call and a chat are queued
    call = enqueue(queue)
    chat = enqueue(queue, channel_kind=ChannelKind.CHAT)

    # then the call goes to the other agent and the chat to the busy one, who has chat room
    assert call.agent == free
    assert chat.agent == busy


def test_agent_is_never_offered_more_than_their_capacity(tenant):
    queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant, capacity={"chat": 3})

    chats = [enqueue(queue, channel_kind=ChannelKind.CHAT) for _ in range(5)]

    assert [c.status for c in chats] == [WorkItem.Status.OFFERED] * 3 + [
        WorkItem.Status.WAITING
    ] * 2
    assert agent.work_items.filter(status__in=WorkItem.ACTIVE_STATUSES).count() == 3


def test_capacity_zero_means_the_agent_takes_no_work_of_that_kind(tenant):
    queue = QueueFactory(tenant=tenant)
    make_agent(tenant, capacity={"email": 0})

    item = enqueue(queue, channel_kind=ChannelKind.EMAIL)

    assert item.status == WorkItem.Status.WAITING


def test_another_tenants_agent_is_never_chosen(tenant, other_tenant):
    # given only an agent of another tenant is available (with a same-named skill)
    queue = QueueFactory(tenant=tenant)
    queue.required_skills.set([SkillFactory(tenant=tenant, name="danish")])
    foreign = make_agent(
        other_tenant, idle_minutes=90, skills={SkillFactory(tenant=other_tenant, name="danish"): 10}
    )

    # when work is queued, and the other tenant's agent later frees up
    item = enqueue(queue)
    offers = agent_route(agent=foreign)

    # then the item keeps waiting
    assert item.status == WorkItem.Status.WAITING
    assert offers == []
    assert not Offer.objects.exists()


def test_agent_no_longer_a_member_of_the_tenant_or_deactivated_gets_no_work(tenant):
    # given two available agents: one whose membership was revoked, one whose login is disabled
    queue = QueueFactory(tenant=tenant)
    revoked = make_agent(tenant, idle_minutes=9)
    Membership.objects.filter(user=revoked.user).delete()
    disabled = make_agent(tenant, idle_minutes=5)
    type(disabled.user).objects.filter(pk=disabled.user_id).update(is_active=False)

    # when work is queued and both free up
    item = enqueue(queue)
    offers = agent_route(agent=revoked) + agent_route(agent=disabled)

    # then the item keeps waiting
    assert item.status == WorkItem.Status.WAITING
    assert offers == []


def test_queue_with_assigned_agents_offers_only_to_them(tenant):
    # given a queue staffed by one named agent, and a longer-idle agent not on it
    queue = QueueFactory(tenant=tenant)
    make_agent(tenant, idle_minutes=60)
    staffed = make_agent(tenant, idle_minutes=1, queues=[queue])

    item = enqueue(queue)

    assert item.agent == staffed


def test_queue_without_assigned_agents_is_served_by_any_agent_of_the_tenant(tenant):
    queue = QueueFactory(tenant=tenant)
    other_queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant, queues=[other_queue])

    item = enqueue(queue)

    assert item.agent == agent


def test_enqueue_refuses_another_tenants_queue_and_a_channel_the_queue_does_not_take(
    tenant, other_tenant
):
    foreign = QueueFactory(tenant=other_tenant)
    voice_only = QueueFactory(tenant=tenant, channel_kinds=["voice"])

    with pytest.raises(ValidationError, match="another tenant"):
        work_item_enqueue(
            tenant_id=tenant.pk, queue=foreign, kind="call", channel_kind=ChannelKind.VOICE
        )
    with pytest.raises(ValidationError, match="does not take email"):
        work_item_enqueue(
            tenant_id=tenant.pk, queue=voice_only, kind="ticket", channel_kind=ChannelKind.EMAIL
        )
    assert not WorkItem.objects.exists()


def test_waiting_work_is_served_priority_then_age(tenant):
    # given waiting calls: two plain ones, one with a higher own priority, one in a queue with
    # a higher priority; and one agent, offline
    plain = QueueFactory(tenant=tenant, priority=0)
    vip = QueueFactory(tenant=tenant, priority=5)
    agent = make_agent(tenant, presence=Presence.OFFLINE)
    enqueue(plain, ref_id="oldest")
    enqueue(plain, priority=3, ref_id="urgent")
    enqueue(vip, ref_id="vip")
    enqueue(plain, ref_id="newest")
    agent.presence = Presence.AVAILABLE
    agent.save()

    # when the agent frees up, and then takes and finishes one call after the other
    agent_route(agent=agent)
    served = []
    for _ in range(4):
        offer = Offer.objects.get(agent=agent, status=Offer.Status.PENDING)
        served.append(offer.work_item.ref_id)
        item = offer_accept(offer=offer, agent=agent)
        work_item_finish(item=item)

    # then the queue's priority adds to the item's, and equal priorities go oldest first
    assert served == ["vip", "urgent", "oldest", "newest"]
    assert WorkItem.objects.filter(status=WorkItem.Status.DONE).count() == 4


def test_finishing_work_frees_the_agent_who_is_offered_the_oldest_fitting_item_at_once(tenant):
    # given an agent on a call, a newer and an older call waiting, and an even older one in a
    # queue needing a skill the agent lacks
    queue = QueueFactory(tenant=tenant)
    expert_queue = QueueFactory(tenant=tenant)
    expert_queue.required_skills.set([SkillFactory(tenant=tenant)])
    agent = make_agent(tenant)
    current = enqueue(queue)
    offer_accept(offer=pending_offer(current), agent=agent)
    enqueue(expert_queue, ref_id="needs-skill")
    enqueue(queue, ref_id="older")
    enqueue(queue, ref_id="newer")
    before = timezone.now()

    # when the agent finishes the call
    work_item_finish(item=current)

    # then they count as idle from now and are offered the oldest call they can take
    agent.refresh_from_db()
    assert agent.last_idle_at >= before
    offer = Offer.objects.get(agent=agent, status=Offer.Status.PENDING)
    assert offer.work_item.ref_id == "older"
    current.refresh_from_db()
    assert current.status == WorkItem.Status.DONE
    assert current.finished_at is not None


def test_accepting_assigns_the_item_to_the_agent(
    tenant, published, django_capture_on_commit_callbacks
):
    queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant)
    item = enqueue(queue)
    offer = pending_offer(item)

    with django_capture_on_commit_callbacks(execute=True):
        accepted = offer_accept(offer=offer, agent=agent)

    assert accepted.status == WorkItem.Status.ASSIGNED
    assert accepted.assigned_at is not None
    offer.refresh_from_db()
    assert offer.status == Offer.Status.ACCEPTED
    assert [(e.name, e.agent_user_id, e.payload["work_item_id"]) for e in published] == [
        ("work.assigned", agent.user_id, item.pk)
    ]


def test_accept_refuses_another_agents_offer_and_an_offer_no_longer_pending(tenant):
    queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant, idle_minutes=5)
    someone_else = make_agent(tenant, idle_minutes=1)
    offer = pending_offer(enqueue(queue))

    with pytest.raises(OfferNotYours):
        offer_accept(offer=offer, agent=someone_else)
    offer_accept(offer=offer, agent=agent)
    with pytest.raises(OfferNotPending):
        offer_accept(offer=offer, agent=agent)
    with pytest.raises(OfferNotPending):
        offer_decline(offer=offer, agent=agent)


def test_accepting_an_expired_offer_fails_and_the_item_goes_to_the_next_agent(tenant):
    # given an offer whose time ran out before the expiry task noticed
    queue = QueueFactory(tenant=tenant)
    late = make_agent(tenant, idle_minutes=5)
    nxt = make_agent(tenant, idle_minutes=1)
    item = enqueue(queue)
    offer = pending_offer(item)
    Offer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    # when the late agent tries to accept
    with pytest.raises(OfferExpired):
        offer_accept(offer=offer, agent=late)

    # then the offer is expired and the next agent has the item
    offer.refresh_from_db()
    assert offer.status == Offer.Status.EXPIRED
    assert pending_offer(item).agent == nxt


def test_expired_offer_goes_to_the_next_agent_and_not_back_to_the_one_who_missed_it(
    tenant, published, django_capture_on_commit_callbacks
):
    # given an offer to the longest-idle agent
    queue = QueueFactory(tenant=tenant)
    missed = make_agent(tenant, idle_minutes=5)
    nxt = make_agent(tenant, idle_minutes=1)
    item = enqueue(queue)
    offer = pending_offer(item)
    assert offer.agent == missed

    # when its time runs out
    with django_capture_on_commit_callbacks(execute=True):
        expired = offers_expire(now=offer.expires_at + timedelta(seconds=1))

    # then it is marked expired, the agent is told they missed it, the next agent has the item
    assert expired == 1
    offer.refresh_from_db()
    assert offer.status == Offer.Status.EXPIRED
    second = pending_offer(item)
    assert second.agent == nxt
    assert [(e.name, e.agent_user_id, e.payload.get("reason")) for e in published] == [
        ("work.offer_expired", missed.user_id, "missed"),
        ("work.offered", nxt.user_id, None),
    ]

    # and when the next agent misses it too, it is not handed straight back to the first one
    offers_expire(now=second.expires_at + timedelta(seconds=1))
    item.refresh_from_db()
    assert item.status == WorkItem.Status.WAITING
    assert not Offer.objects.filter(status=Offer.Status.PENDING).exists()


def test_missed_item_is_offered_again_after_the_cool_down(tenant, settings):
    # given the only agent missed an item, so it waits
    settings.ROUTING_REOFFER_COOLDOWN_SECONDS = 60
    queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant)
    item = enqueue(queue)
    Offer.objects.filter(work_item=item).update(expires_at=timezone.now())
    offers_expire()
    item.refresh_from_db()
    assert item.status == WorkItem.Status.WAITING
    assert expire_offers() == {"expired": 0, "offered": 0}

    # when the beat task runs after the cool-down
    Offer.objects.filter(work_item=item).update(responded_at=timezone.now() - timedelta(seconds=61))
    result = expire_offers()

    # then it is offered to them again: nothing waits forever
    assert result == {"expired": 0, "offered": 1}
    assert pending_offer(item).agent == agent


def test_offers_expire_leaves_offers_still_in_time_alone(tenant):
    queue = QueueFactory(tenant=tenant)
    make_agent(tenant)
    item = enqueue(queue)

    assert offers_expire() == 0
    assert pending_offer(item).status == Offer.Status.PENDING


def test_declined_item_goes_to_the_next_agent(tenant):
    # given an offer to the longest-idle agent
    queue = QueueFactory(tenant=tenant)
    decliner = make_agent(tenant, idle_minutes=5)
    nxt = make_agent(tenant, idle_minutes=1)
    item = enqueue(queue)
    offer = pending_offer(item)
    before = timezone.now()

    # when they decline
    declined = offer_decline(offer=offer, agent=decliner)

    # then the next agent is offered the item and the decliner moves to the back of the line
    assert declined.status == Offer.Status.DECLINED
    assert pending_offer(item).agent == nxt
    decliner.refresh_from_db()
    assert decliner.last_idle_at >= before


def test_cancelled_item_withdraws_the_offer_and_frees_the_agent_for_waiting_work(
    tenant, published, django_capture_on_commit_callbacks
):
    # given an agent offered a call, with another call waiting behind it
    queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant)
    hung_up = enqueue(queue, ref_id="hung-up")
    waiting = enqueue(queue, ref_id="waiting")

    # when the first caller hangs up
    with django_capture_on_commit_callbacks(execute=True):
        work_item_cancel(item=hung_up, reason="caller hung up")

    # then that offer is withdrawn and the agent is offered the waiting call
    hung_up.refresh_from_db()
    assert hung_up.status == WorkItem.Status.CANCELLED
    assert Offer.objects.get(work_item=hung_up).status == Offer.Status.WITHDRAWN
    assert pending_offer(waiting).agent == agent
    assert [e.name for e in published] == ["work.offer_withdrawn", "work.cancelled", "work.offered"]


def test_finishing_an_item_still_offered_withdraws_the_offer_on_the_agents_screen(
    tenant, published, django_capture_on_commit_callbacks
):
    # given an agent whose screen is ringing with an offer
    queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant)
    item = enqueue(queue)
    offer = pending_offer(item)
    published.clear()

    # when the item is finished elsewhere before the agent answers
    with django_capture_on_commit_callbacks(execute=True):
        work_item_finish(item=item)

    # then the offer is withdrawn, and the agent hears so before the item is reported done
    offer.refresh_from_db()
    assert offer.status == Offer.Status.WITHDRAWN
    assert [e.name for e in published] == ["work.offer_withdrawn", "work.finished"]
    withdrawn = published[0]
    assert withdrawn.agent_user_id == agent.user_id
    assert withdrawn.payload == {
        "offer_id": offer.pk,
        "work_item_id": item.pk,
        "agent_id": agent.pk,
        "reason": "finished",
    }


def test_finishing_or_cancelling_twice_changes_nothing(tenant):
    queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant)
    item = offer_accept(offer=pending_offer(enqueue(queue)), agent=agent)
    done = work_item_finish(item=item)

    again = work_item_finish(item=item)
    cancelled = work_item_cancel(item=item)

    assert again.status == cancelled.status == WorkItem.Status.DONE
    assert again.finished_at == done.finished_at


def test_work_route_is_a_no_op_for_an_item_that_is_not_waiting(tenant):
    queue = QueueFactory(tenant=tenant)
    make_agent(tenant, idle_minutes=5)
    make_agent(tenant, idle_minutes=1)
    item = enqueue(queue)

    assert work_route(item=item) is None
    assert Offer.objects.filter(work_item=item).count() == 1


def test_safety_net_offers_work_left_waiting_to_an_agent_with_room(tenant):
    # given an item left waiting while an agent is available (e.g. both skipped each other
    # under lock contention), simulated by creating the item without routing
    queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant)
    item = WorkItemFactory(tenant=tenant, queue=queue)

    assert work_route_waiting() == 1
    assert pending_offer(item).agent == agent


@pytest.mark.parametrize("agents", [2, 25])
def test_routing_one_item_takes_the_same_queries_whatever_the_number_of_agents(tenant, agents):
    # given a skilled queue and many available agents
    skill = SkillFactory(tenant=tenant)
    queue = QueueFactory(tenant=tenant)
    queue.required_skills.set([skill])
    for minutes in range(agents):
        make_agent(tenant, idle_minutes=minutes, skills={skill: 5})
    item = WorkItemFactory(tenant=tenant, queue=queue)

    # when one item is routed
    with CaptureQueriesContext(connection) as queries:
        offer = work_route(item=item)

    # then: lock the item, pick and lock the agent, recount, update the item, create the offer
    # (plus savepoint statements)
    assert offer is not None
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 5, statements


def test_route_work_item_task_offers_a_waiting_item_and_ignores_unknown_ids(tenant):
    queue = QueueFactory(tenant=tenant)
    agent = make_agent(tenant)
    item = WorkItemFactory(tenant=tenant, queue=queue)

    assert route_work_item(item.pk) is True
    assert route_work_item(item.pk) is False
    assert route_work_item(item.pk + 1000) is False
    assert pending_offer(item).agent == agent
