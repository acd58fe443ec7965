"""The routing engine under real contention (PostgreSQL row locks, one connection per worker).

Several threads start together behind a barrier and, as fast as they can, enqueue work, accept,
decline and finish offers, expire offers, toggle agents between available and break, and run the
safety-net sweep, all against a handful of agents with small capacities. Afterwards the whole
offer history is replayed to prove that at no moment did an agent hold more than their capacity
and no item was ever offered to two agents at once.
"""

from __future__ import annotations

import random
import threading
import traceback
from collections import defaultdict
from datetime import datetime

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from crm.models import ChannelKind, Offer, Presence, WorkItem
from crm.services.presence import agent_set_presence
from crm.services.routing import (
    RoutingError,
    offer_accept,
    offer_decline,
    offers_expire,
    work_item_cancel,
    work_item_enqueue,
    work_item_finish,
    work_route_waiting,
)
from tests.crm.factories import AgentProfileFactory, QueueFactory, TenantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 8
ROUNDS = 40
CAPACITY = {ChannelKind.VOICE: 1, ChannelKind.CHAT: 2, ChannelKind.EMAIL: 1}
FAR_FUTURE = datetime.max.replace(tzinfo=timezone.get_current_timezone())


def over_capacity_now() -> list[tuple]:
    """(agent, kind, active) rows above capacity, read in one statement (one snapshot)."""
    rows = (
        WorkItem.objects.filter(status__in=WorkItem.ACTIVE_STATUSES)
        .values("agent_id", "channel_kind")
        .annotate(n=Count("pk"))
    )
    return [r for r in rows if r["n"] > CAPACITY[r["channel_kind"]]]


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    # An interval ending at the instant another starts does not overlap it: ends sort first.
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    level = peak = 0
    for _, step in points:
        level += step
        peak = max(peak, level)
    return peak


def offer_intervals() -> list[tuple[Offer, datetime, datetime]]:
    """Each offer as the time span it held its agent's capacity."""
    spans = []
    for offer in Offer.objects.select_related("work_item"):
        if offer.status == Offer.Status.PENDING:
            end = FAR_FUTURE
        elif offer.status == Offer.Status.ACCEPTED:
            end = offer.work_item.finished_at or FAR_FUTURE
        else:
            end = offer.responded_at
        assert end is not None, offer
        assert end >= offer.offered_at, offer
        spans.append((offer, offer.offered_at, end))
    return spans


def test_concurrent_workers_never_overfill_an_agent_nor_offer_an_item_twice(settings):
    # given five available agents with small capacities, one queue, and short offers so that
    # some expire while workers race
    settings.ROUTING_OFFER_TIMEOUT_SECONDS = 1
    settings.ROUTING_REOFFER_COOLDOWN_SECONDS = 0
    tenant = TenantFactory()
    queue = QueueFactory(tenant=tenant)
    agents = [
        AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE, capacity=dict(CAPACITY))
        for _ in range(5)
    ]
    barrier = threading.Barrier(WORKERS)
    errors: list[str] = []
    live_violations: list[list[tuple]] = []
    refused = defaultdict(int)

    def enqueue(rng):
        work_item_enqueue(
            tenant_id=tenant.pk,
            queue=queue,
            kind=WorkItem.Kind.CONVERSATION,
            channel_kind=rng.choice(list(CAPACITY)),
        )

    def some_offer(rng):
        pending = list(Offer.objects.filter(status=Offer.Status.PENDING).select_related("agent"))
        return rng.choice(pending) if pending else None

    def accept(rng):
        if offer := some_offer(rng):
            offer_accept(offer=offer, agent=offer.agent)

    def decline(rng):
        if offer := some_offer(rng):
            offer_decline(offer=offer, agent=offer.agent)

    def finish(rng):
        assigned = list(WorkItem.objects.filter(status=WorkItem.Status.ASSIGNED)[:20])
        if assigned:
            work_item_finish(item=rng.choice(assigned))

    def cancel(rng):
        active = list(WorkItem.objects.filter(status=WorkItem.Status.OFFERED)[:20])
        if active:
            work_item_cancel(item=rng.choice(active), reason="caller hung up")

    def toggle_presence(rng):
        agent = rng.choice(agents)
        presence = rng.choice([Presence.AVAILABLE, Presence.BREAK, Presence.AVAILABLE])
        agent_set_presence(agent=agent, presence=presence, reason="race")

    def check(rng):
        if rows := over_capacity_now():
            live_violations.append(rows)

    actions = [
        (enqueue, 30),
        (accept, 20),
        (finish, 18),
        (decline, 6),
        (cancel, 4),
        (toggle_presence, 8),
        (lambda rng: offers_expire(), 6),
        (lambda rng: work_route_waiting(), 4),
        (check, 4),
    ]
    choices, weights = zip(*actions, strict=True)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
            for _ in range(ROUNDS):
                action = rng.choices(choices, weights)[0]
                try:
                    action(rng)
                except RoutingError as exc:
                    # Two workers raced for the same offer; exactly one may win.
                    refused[type(exc).__name__] += 1
        except Exception:
            errors.append(traceback.format_exc())
        finally:
            connection.close()

    # when the workers race
    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)

    # then no worker failed (no deadlock, no unique-constraint violation) ...
    assert not any(t.is_alive() for t in threads)
    assert errors == [], "\n".join(errors)
    assert live_violations == []
    assert WorkItem.objects.count() > 50
    assert Offer.objects.count() > 50

    # ... at no moment in the offer history did an agent hold more than their capacity ...
    spans = offer_intervals()
    by_agent_kind = defaultdict(list)
    by_item = defaultdict(list)
    for offer, start, end in spans:
        by_agent_kind[(offer.agent_id, offer.work_item.channel_kind)].append((start, end))
        by_item[offer.work_item_id].append((start, end))
    for (agent_id, kind), intervals in by_agent_kind.items():
        assert max_overlap(intervals) <= CAPACITY[kind], (agent_id, kind)

    # ... no item was ever offered to two agents at once, or accepted twice ...
    for item_id, intervals in by_item.items():
        assert max_overlap(intervals) == 1, item_id
    accepted = Offer.objects.filter(status=Offer.Status.ACCEPTED)
    assert not accepted.values("work_item").annotate(n=Count("pk")).filter(n__gt=1).exists()

    # ... every item's state agrees with its offers ...
    for item in WorkItem.objects.prefetch_related("offers"):
        pending = [o for o in item.offers.all() if o.status == Offer.Status.PENDING]
        taken = [o for o in item.offers.all() if o.status == Offer.Status.ACCEPTED]
        if item.status == WorkItem.Status.OFFERED:
            assert [o.agent_id for o in pending] == [item.agent_id]
        elif item.status == WorkItem.Status.ASSIGNED:
            assert [o.agent_id for o in taken] == [item.agent_id]
            assert not pending
        else:
            assert not pending

    # ... and nothing is stuck: with everyone available, the backlog drains completely
    settings.ROUTING_OFFER_TIMEOUT_SECONDS = 60
    for agent in agents:
        agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
    for _ in range(500):
        work_route_waiting()
        for offer in Offer.objects.filter(status=Offer.Status.PENDING).select_related("agent"):
            try:
                item = offer_accept(offer=offer, agent=offer.agent)
            except RoutingError:  # offered during the race with a 1-second timeout
                continue
            work_item_finish(item=item)
        for item in WorkItem.objects.filter(status=WorkItem.Status.ASSIGNED):
            work_item_finish(item=item)
        if not WorkItem.objects.exclude(
            status__in=[WorkItem.Status.DONE, WorkItem.Status.CANCELLED]
        ).exists():
            break
    assert not WorkItem.objects.exclude(
        status__in=[WorkItem.Status.DONE, WorkItem.Status.CANCELLED]
    ).exists()
    assert over_capacity_now() == []
