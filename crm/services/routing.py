"""The routing engine: work waits in priority-then-age order and is offered to the best agent.

Best agent for an item: presence AVAILABLE, an agent of the item's tenant, holds every skill the
queue requires, is one of the queue's agents when the queue has any assigned (else any agent of
the tenant), has capacity left for the item's channel kind (OFFERED + ASSIGNED items of that kind
below `AgentProfile.capacity_for(kind)`), and did not just decline or miss this item. Among those
the longest idle (`last_idle_at` oldest) wins; the higher summed level in the queue's skills breaks
ties.

Why this is race-free on PostgreSQL (many web and Celery processes route at once):

* Capacity is only *taken* (an item moved to OFFERED for an agent) while that agent's row is
  locked, and the agent's active items are counted after the lock is held, so two workers can
  never both fill an agent's last slot.
* An item and its offers only change while the item's row is locked, and an item is only offered
  while still WAITING, so it is never offered to two agents. The partial unique constraint
  `offer_one_pending_per_item` backs this up in the database.
* No cycle of waiting: a transaction blocks only on the first row it locks (an item, or in
  `agent_route` / presence changes an agent) and on agent rows it updates; every other lock is
  taken with SKIP LOCKED, and nothing that holds an agent row ever waits for an item row.

SKIP LOCKED means a worker passes over an agent or item another worker is busy with. In the rare
case both pass over each other, the item stays WAITING with an agent free; the beat task
`crm.tasks.expire_offers` runs `work_route_waiting()` every few seconds as the safety net.

On SQLite writers are serialised (BEGIN IMMEDIATE) and `select_for_update()` is a no-op.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from crm.events import publish
from crm.models import (
    AgentProfile,
    AgentSkill,
    ChannelKind,
    Membership,
    Offer,
    Presence,
    Queue,
    WorkItem,
)
from crm.models.agents import DEFAULT_CAPACITY

QueueSkill = Queue.required_skills.through
QueueAgent = AgentProfile.queues.through

# How many agents one routing attempt tries when the best ones turn out to be full (a worker
# elsewhere filled them between our read and our lock).
_MAX_CANDIDATES = 5


class RoutingError(Exception):
    """A routing request that cannot be honoured. `code` is stable for API error bodies."""

    code = "routing_error"


class OfferNotPending(RoutingError):
    code = "offer_not_pending"


class OfferExpired(RoutingError):
    code = "offer_expired"


class OfferNotYours(RoutingError):
    code = "offer_not_yours"


def offer_timeout() -> timedelta:
    return timedelta(seconds=settings.ROUTING_OFFER_TIMEOUT_SECONDS)


def reoffer_cooldown() -> timedelta:
    """How long an agent who declined or missed an item is not offered that item again."""
    return timedelta(seconds=settings.ROUTING_REOFFER_COOLDOWN_SECONDS)


# --- queries -------------------------------------------------------------------------------


def _active_count(agent_ref, channel_kind: str) -> Coalesce:
    """Items holding the agent's capacity for `channel_kind`, as a correlated subquery."""
    counted = (
        WorkItem.objects.filter(
            agent_id=agent_ref, status__in=WorkItem.ACTIVE_STATUSES, channel_kind=channel_kind
        )
        .order_by()
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _capacity(channel_kind: str) -> Coalesce:
    """`AgentProfile.capacity_for(channel_kind)` computed in SQL."""
    return Coalesce(
        Cast(KeyTextTransform(channel_kind, "capacity"), IntegerField()),
        Value(DEFAULT_CAPACITY.get(channel_kind, 1)),
    )


def _candidate_agents(item: WorkItem, now: datetime) -> QuerySet[AgentProfile]:
    """Agents who may take `item`, best first. One query whatever the number of agents."""
    required = QueueSkill.objects.filter(queue_id=item.queue_id).values("skill_id")
    missing_skill = QueueSkill.objects.filter(queue_id=item.queue_id).filter(
        ~Exists(
            AgentSkill.objects.filter(
                agent_id=OuterRef(OuterRef("pk")), skill_id=OuterRef("skill_id")
            )
        )
    )
    skill_level = (
        AgentSkill.objects.filter(agent_id=OuterRef("pk"), skill_id__in=required)
        .order_by()
        .values("agent_id")
        .annotate(total=Sum("level"))
        .values("total")
    )
    queue_has_agents = QueueAgent.objects.filter(queue_id=item.queue_id)
    recently_refused = Offer.objects.filter(
        work_item_id=item.pk,
        agent_id=OuterRef("pk"),
        status__in=[Offer.Status.DECLINED, Offer.Status.EXPIRED],
        responded_at__gte=now - reoffer_cooldown(),
    )
    return (
        AgentProfile.objects.filter(tenant_id=item.tenant_id, presence=Presence.AVAILABLE)
        .filter(Exists(_membership(item.tenant_id)))
        .filter(~Exists(missing_skill))
        .filter(
            ~Exists(queue_has_agents)
            | Exists(queue_has_agents.filter(agentprofile_id=OuterRef("pk")))
        )
        .filter(~Exists(recently_refused))
        .alias(
            active=_active_count(OuterRef("pk"), item.channel_kind),
            cap=_capacity(item.channel_kind),
        )
        .filter(active__lt=F("cap"))
        .annotate(skill_level=Coalesce(Subquery(skill_level, output_field=IntegerField()), 0))
        .order_by("last_idle_at", "-skill_level", "pk")
    )


def _membership(tenant_id: int) -> QuerySet[Membership]:
    # An agent profile outlives a revoked membership or a deactivated login; neither gets work.
    return Membership.objects.filter(
        user_id=OuterRef("user_id"), tenant_id=tenant_id, user__is_active=True
    )


def _has_room(agent: AgentProfile, channel_kind: str) -> bool:
    active = WorkItem.objects.filter(
        agent=agent, status__in=WorkItem.ACTIVE_STATUSES, channel_kind=channel_kind
    ).count()
    return active < agent.capacity_for(channel_kind)


def _queues_for_agent(agent: AgentProfile) -> QuerySet[Queue]:
    """Queues whose work `agent` may take: all required skills held, and assigned if restricted."""
    missing_skill = QueueSkill.objects.filter(queue_id=OuterRef("pk")).exclude(
        skill_id__in=AgentSkill.objects.filter(agent_id=agent.pk).values("skill_id")
    )
    queue_agents = QueueAgent.objects.filter(queue_id=OuterRef("pk"))
    return (
        Queue.objects.filter(tenant_id=agent.tenant_id)
        .filter(~Exists(missing_skill))
        .filter(~Exists(queue_agents) | Exists(queue_agents.filter(agentprofile_id=agent.pk)))
    )


def waiting_order(queryset: QuerySet[WorkItem]) -> QuerySet[WorkItem]:
    """Priority (the item's plus its queue's, higher first), then age (oldest first)."""
    return queryset.alias(effective_priority=F("priority") + F("queue__priority")).order_by(
        "-effective_priority", "enqueued_at", "pk"
    )


# --- offers --------------------------------------------------------------------------------


def _item_payload(item: WorkItem) -> dict[str, Any]:
    """What every `work.*` event says about its item (see docs/events.md)."""
    return {
        "work_item_id": item.pk,
        "queue_id": item.queue_id,
        "kind": item.kind,
        "channel_kind": item.channel_kind,
        "ref_type": item.ref_type,
        "ref_id": item.ref_id,
    }


def _offer(*, item: WorkItem, agent: AgentProfile) -> Offer:
    # Taken after the agent's lock and recount, so the offer starts after whatever freed the
    # slot it fills had committed (the race test checks capacity over these timestamps).
    now = timezone.now()
    item.status = WorkItem.Status.OFFERED
    item.agent = agent
    item.save(update_fields=["status", "agent"])
    offer = Offer.objects.create(
        tenant_id=item.tenant_id,
        work_item=item,
        agent=agent,
        offered_at=now,
        expires_at=now + offer_timeout(),
    )
    publish(
        "work.offered",
        tenant_id=item.tenant_id,
        agent_user_id=agent.user_id,
        payload={
            **_item_payload(item),
            "offer_id": offer.pk,
            "agent_id": agent.pk,
            "expires_at": offer.expires_at.isoformat(),
        },
    )
    return offer


def _release(*, item: WorkItem, offer: Offer, status: str, now: datetime) -> None:
    """Close a pending offer and put its item back to WAITING (item row lock held)."""
    offer.status = status
    offer.responded_at = now
    offer.save(update_fields=["status", "responded_at"])
    item.status = WorkItem.Status.WAITING
    item.agent = None
    item.save(update_fields=["status", "agent"])


def _lock_item(pk: int, *, skip_locked: bool = False) -> WorkItem | None:
    return (
        WorkItem.objects.select_for_update(no_key=True, skip_locked=skip_locked)
        .filter(pk=pk)
        .first()
    )


# --- public services -----------------------------------------------------------------------


@transaction.atomic
def work_item_enqueue(
    *,
    tenant_id: int,
    queue: Queue,
    kind: str,
    channel_kind: str,
    ref_type: str = "",
    ref_id: str = "",
    priority: int = 0,
) -> WorkItem:
    """Put a call, conversation, callback or ticket in `queue` and try to offer it at once.

    Returns the item: OFFERED when an agent was free, else WAITING (it is offered as soon as a
    fitting agent frees up). Raises ValidationError for a queue of another tenant or a channel
    kind the queue does not take.
    """
    if queue.tenant_id != tenant_id:
        raise ValidationError({"queue": "The queue belongs to another tenant."})
    if kind not in WorkItem.Kind.values:
        raise ValidationError({"kind": f"Unknown work item kind {kind!r}."})
    if channel_kind not in ChannelKind.values:
        raise ValidationError({"channel_kind": f"Unknown channel kind {channel_kind!r}."})
    if queue.channel_kinds and channel_kind not in queue.channel_kinds:
        raise ValidationError({"channel_kind": f"Queue {queue} does not take {channel_kind}."})
    item = WorkItem.objects.create(
        tenant_id=tenant_id,
        queue=queue,
        kind=kind,
        channel_kind=channel_kind,
        ref_type=ref_type,
        ref_id=ref_id,
        priority=priority,
    )
    publish(
        "work.queued",
        tenant_id=tenant_id,
        payload={**_item_payload(item), "priority": priority},
    )
    # The row was inserted just now in this transaction: nobody else can see it, let alone
    # lock it, and it is WAITING. So `work_route`'s savepoint and re-read under lock are
    # skipped; `_offer_best` updates `item` in place when it makes an offer.
    _offer_best(locked=item, item=item)
    return item


@transaction.atomic
def work_route(*, item: WorkItem) -> Offer | None:
    """Offer one WAITING item to the best agent; None when nobody fits (it keeps waiting).

    Also None when another worker holds the item (it is deciding for it) or the item is no
    longer waiting. Safe to call any number of times.
    """
    locked = (
        WorkItem.objects.select_for_update(no_key=True, skip_locked=True)
        .filter(pk=item.pk, status=WorkItem.Status.WAITING)
        .first()
    )
    if locked is None:
        return None
    return _offer_best(locked=locked, item=item)


def _offer_best(*, locked: WorkItem, item: WorkItem) -> Offer | None:
    """`work_route` once the WAITING item is held (`locked`, its row locked; `item`, the
    caller's instance, is updated in place when an offer is made)."""
    candidates = _candidate_agents(locked, timezone.now())
    tried: list[int] = []
    for _ in range(_MAX_CANDIDATES):
        agent = (
            candidates.exclude(pk__in=tried)
            .select_for_update(no_key=True, skip_locked=True, of=("self",))
            .first()
        )
        if agent is None:
            return None
        # The candidate query read a snapshot from before our lock; count again now that
        # nobody else can add to this agent's work.
        if _has_room(agent, locked.channel_kind):
            offer = _offer(item=locked, agent=agent)
            item.status, item.agent = locked.status, agent
            return offer
        tried.append(agent.pk)
    return None


@transaction.atomic
def agent_route(*, agent: AgentProfile) -> list[Offer]:
    """Offer a freed-up agent the oldest fitting waiting work until their capacity is full.

    Per channel kind, items are taken priority-then-age from every queue the agent may serve.
    Returns the offers made (none when the agent is not AVAILABLE). Blocks briefly on the agent's
    row if another worker is offering them work.
    """
    locked = (
        AgentProfile.objects.select_for_update(no_key=True, of=("self",))
        .annotate(is_member=Exists(_membership(agent.tenant_id)))
        .filter(pk=agent.pk)
        .first()
    )
    if locked is None or locked.presence != Presence.AVAILABLE or not locked.is_member:
        return []
    active = dict(
        WorkItem.objects.filter(agent=locked, status__in=WorkItem.ACTIVE_STATUSES)
        .order_by()
        .values("channel_kind")
        .annotate(n=Count("pk"))
        .values_list("channel_kind", "n")
    )
    queues = _queues_for_agent(locked).values("pk")
    recently_refused = Offer.objects.filter(
        work_item_id=OuterRef("pk"),
        agent_id=locked.pk,
        status__in=[Offer.Status.DECLINED, Offer.Status.EXPIRED],
        responded_at__gte=timezone.now() - reoffer_cooldown(),
    )
    offers: list[Offer] = []
    for kind in ChannelKind.values:
        room = locked.capacity_for(kind) - active.get(kind, 0)
        if room <= 0:
            continue
        items = waiting_order(
            WorkItem.objects.filter(
                tenant_id=locked.tenant_id,
                status=WorkItem.Status.WAITING,
                channel_kind=kind,
                queue_id__in=queues,
            ).filter(~Exists(recently_refused))
        ).select_for_update(no_key=True, skip_locked=True, of=("self",))[:room]
        offers.extend(_offer(item=item, agent=locked) for item in items)
    return offers


def offer_accept(*, offer: Offer, agent: AgentProfile) -> WorkItem:
    """The agent takes the offered item: it becomes ASSIGNED to them.

    Raises OfferNotYours for another agent's offer, OfferNotPending for one already accepted,
    declined, expired or withdrawn, and OfferExpired when its time is up (the offer is then
    expired and the item goes to the next agent, and that is committed even though this raises).
    """
    with transaction.atomic():
        item = _lock_item(offer.work_item_id)
        current = Offer.objects.get(pk=offer.pk)
        if current.agent_id != agent.pk:
            raise OfferNotYours("This offer was made to another agent.")
        if current.status != Offer.Status.PENDING:
            raise OfferNotPending(f"This offer is {current.status}, no longer pending.")
        now = timezone.now()
        expired = current.expires_at <= now
        if expired:
            _expire(item=item, offer=current, now=now)
        else:
            current.status = Offer.Status.ACCEPTED
            current.responded_at = now
            current.save(update_fields=["status", "responded_at"])
            item.status = WorkItem.Status.ASSIGNED
            item.assigned_at = now
            item.save(update_fields=["status", "assigned_at"])
            publish(
                "work.assigned",
                tenant_id=item.tenant_id,
                agent_user_id=agent.user_id,
                payload={**_item_payload(item), "offer_id": current.pk, "agent_id": agent.pk},
            )
    offer.refresh_from_db()
    if expired:
        raise OfferExpired("This offer has expired.")
    return item


@transaction.atomic
def offer_decline(*, offer: Offer, agent: AgentProfile) -> Offer:
    """The agent turns the offer down: the item goes to the next agent at once.

    The decliner counts as idle from now (they move to the back of the longest-idle line) and is
    not offered this item again for the re-offer cool-down. Raises like `offer_accept`.
    """
    item = _lock_item(offer.work_item_id)
    current = Offer.objects.get(pk=offer.pk)
    if current.agent_id != agent.pk:
        raise OfferNotYours("This offer was made to another agent.")
    if current.status != Offer.Status.PENDING:
        raise OfferNotPending(f"This offer is {current.status}, no longer pending.")
    now = timezone.now()
    _release(item=item, offer=current, status=Offer.Status.DECLINED, now=now)
    AgentProfile.objects.filter(pk=agent.pk).update(last_idle_at=now)
    work_route(item=item)
    # The decliner's slot is free again: give them other waiting work, if any fits.
    agent_route(agent=agent)
    offer.refresh_from_db()
    return offer


def _expire(*, item: WorkItem, offer: Offer, now: datetime) -> None:
    _release(item=item, offer=offer, status=Offer.Status.EXPIRED, now=now)
    _publish_offer_closed("work.offer_expired", item=item, offer=offer, reason="missed")
    work_route(item=item)


def offers_expire(*, now: datetime | None = None) -> int:
    """Expire every PENDING offer past its time ("missed") and offer the items to the next agent.

    The agent who missed an item is not offered it again for the re-offer cool-down. Returns how
    many offers expired. Idempotent; several workers may run it at once (each item is handled by
    whichever worker locks it first). Each item is handled in its own short transaction.
    """
    now = now or timezone.now()
    due = list(
        Offer.objects.filter(status=Offer.Status.PENDING, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", "work_item_id")
    )
    expired = 0
    for offer_pk, item_pk in due:
        with transaction.atomic():
            item = _lock_item(item_pk, skip_locked=True)
            if item is None:
                continue
            offer = (
                Offer.objects.select_related("agent")
                .filter(pk=offer_pk, status=Offer.Status.PENDING, expires_at__lte=now)
                .first()
            )
            if offer is None:
                continue
            _expire(item=item, offer=offer, now=now)
            expired += 1
    return expired


@transaction.atomic
def work_item_finish(*, item: WorkItem) -> WorkItem:
    """The agent is done with the item: DONE, their capacity is freed, they count as idle from
    now, and they are offered the oldest fitting waiting work at once. Finishing twice is a no-op.
    """
    locked = _lock_item(item.pk)
    if locked.status in (WorkItem.Status.DONE, WorkItem.Status.CANCELLED):
        return locked
    now = timezone.now()
    # Finished before it was accepted (e.g. handled elsewhere): a ringing offer is void.
    _withdraw_pending(item=locked, now=now, reason="finished")
    locked.status = WorkItem.Status.DONE
    locked.finished_at = now
    locked.save(update_fields=["status", "finished_at"])
    publish(
        "work.finished",
        tenant_id=locked.tenant_id,
        payload={**_item_payload(locked), "agent_id": locked.agent_id},
    )
    if locked.agent_id is not None:
        AgentProfile.objects.filter(pk=locked.agent_id).update(last_idle_at=now)
        agent_route(agent=locked.agent)
    return locked


@transaction.atomic
def work_item_cancel(*, item: WorkItem, reason: str = "") -> WorkItem:
    """Take an item out of routing (e.g. the caller hung up): CANCELLED, any pending offer is
    withdrawn and the agent's capacity freed. Cancelling a finished or cancelled item is a no-op.
    """
    locked = _lock_item(item.pk)
    if locked.status in (WorkItem.Status.DONE, WorkItem.Status.CANCELLED):
        return locked
    now = timezone.now()
    agent = locked.agent
    _withdraw_pending(item=locked, now=now, reason=reason or "cancelled")
    locked.status = WorkItem.Status.CANCELLED
    locked.finished_at = now
    locked.save(update_fields=["status", "finished_at"])
    publish(
        "work.cancelled",
        tenant_id=locked.tenant_id,
        payload={
            "work_item_id": locked.pk,
            "queue_id": locked.queue_id,
            "agent_id": locked.agent_id,
            "reason": reason,
        },
    )
    if agent is not None:
        agent_route(agent=agent)
    return locked


def _withdraw_pending(*, item: WorkItem, now: datetime, reason: str) -> None:
    """Void the item's pending offer, if it has one, and tell its agent (item row lock held)."""
    pending = item.offers.select_related("agent").filter(status=Offer.Status.PENDING).first()
    if pending is None:
        return
    pending.status = Offer.Status.WITHDRAWN
    pending.responded_at = now
    pending.save(update_fields=["status", "responded_at"])
    _publish_offer_closed("work.offer_withdrawn", item=item, offer=pending, reason=reason)


def _publish_offer_closed(event: str, *, item: WorkItem, offer: Offer, reason: str) -> None:
    """Tell the agent an offer they may still see ringing is gone (expired or withdrawn)."""
    publish(
        event,
        tenant_id=item.tenant_id,
        agent_user_id=offer.agent.user_id,
        payload={
            "offer_id": offer.pk,
            "work_item_id": item.pk,
            "agent_id": offer.agent_id,
            "reason": reason,
        },
    )


def offers_withdraw_for_agent(*, agent: AgentProfile, reason: str) -> list[WorkItem]:
    """Withdraw the agent's pending offers and put the items back to WAITING (not re-routed).

    Call inside a transaction that holds the agent's row lock (see `agent_set_presence`). Items
    another worker holds are skipped: that worker is accepting, declining or expiring the offer.
    """
    now = timezone.now()
    items = list(
        WorkItem.objects.select_for_update(no_key=True, skip_locked=True)
        .filter(agent=agent, status=WorkItem.Status.OFFERED)
        .order_by("pk")
    )
    released = []
    for item in items:
        offer = item.offers.filter(status=Offer.Status.PENDING).first()
        if offer is None:
            continue
        offer.agent = agent
        _release(item=item, offer=offer, status=Offer.Status.WITHDRAWN, now=now)
        _publish_offer_closed("work.offer_withdrawn", item=item, offer=offer, reason=reason)
        released.append(item)
    return released


def work_route_waiting() -> int:
    """Safety net run by beat: give every available agent with room the waiting work that fits.

    Longest-idle agents first, so the order matches what live routing would have done. Returns
    the number of offers made.
    """
    tenants_waiting = WorkItem.objects.filter(
        status=WorkItem.Status.WAITING, tenant_id=OuterRef("tenant_id")
    )
    agents = list(
        AgentProfile.objects.filter(presence=Presence.AVAILABLE)
        .filter(Exists(tenants_waiting))
        .order_by("last_idle_at", "pk")
    )
    return sum(len(agent_route(agent=agent)) for agent in agents)


__all__ = [
    "OfferExpired",
    "OfferNotPending",
    "OfferNotYours",
    "RoutingError",
    "agent_route",
    "offer_accept",
    "offer_decline",
    "offers_expire",
    "offers_withdraw_for_agent",
    "work_item_cancel",
    "work_item_enqueue",
    "work_item_finish",
    "work_route",
    "work_route_waiting",
]
