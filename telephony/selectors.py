"""Reads of telephony data shared by webhooks, pages and tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from crm.models import AgentProfile, Offer, WorkItem
from crm.services.routing import waiting_order
from telephony.models import TERMINAL_STATUSES, Call, CallEvent, CallOutcome, PhoneNumber

# Expected handle time for a queue with no answered calls yet.
DEFAULT_HANDLE_SECONDS = 180
_RECENT_CALLS = 50


def number_for_incoming(number: str) -> PhoneNumber | None:
    """The phone number a call was made to, with everything the first answer needs: tenant,
    entry menu and queue, both business-hours schedules with rules and holidays, the menu's
    options. A fixed number of queries (at most six) however large the configuration is.

    The incoming-call webhook reads it through `telephony.config_cache.incoming_number`, which
    keeps the result per process until the configuration changes."""
    return (
        PhoneNumber.objects.select_related(
            "tenant", "entry_menu", "entry_queue", "business_hours", "entry_menu__business_hours"
        )
        .prefetch_related(
            "business_hours__rules",
            "business_hours__holidays",
            "entry_menu__business_hours__rules",
            "entry_menu__business_hours__holidays",
            "entry_menu__options",
        )
        .filter(number=number)
        .first()
    )


def queue_position(item: WorkItem | None) -> int | None:
    """1 for the item routing will offer next in its queue, 2 for the one after, ...

    Counts the items ahead in the routing engine's own order (priority, then age), which is
    the order callers are really served in. None when the item is no longer waiting.
    """
    if item is None or item.status != WorkItem.Status.WAITING:
        return None
    effective = item.priority + item.queue.priority
    ahead = (
        waiting_order(
            WorkItem.objects.filter(queue_id=item.queue_id, status=WorkItem.Status.WAITING)
        )
        .filter(
            Q(effective_priority__gt=effective)
            | Q(effective_priority=effective, enqueued_at__lt=item.enqueued_at)
            | Q(effective_priority=effective, enqueued_at=item.enqueued_at, pk__lt=item.pk)
        )
        .count()
    )
    return ahead + 1


def estimated_wait_seconds(*, queue_id: int, position: int) -> int:
    """A simple estimate: callers ahead times the average talk time of the queue's recent
    answered calls (DEFAULT_HANDLE_SECONDS when there are none)."""
    recent = list(
        Call.objects.filter(queue_id=queue_id, outcome=CallOutcome.ANSWERED)
        .exclude(talk_seconds=None)
        .order_by("-started_at")
        .values_list("talk_seconds", flat=True)[:_RECENT_CALLS]
    )
    handle = sum(recent) / len(recent) if recent else DEFAULT_HANDLE_SECONDS
    return int(position * handle)


# --- the agent's softphone panel ------------------------------------------------------------


@dataclass(frozen=True)
class SoftphoneState:
    """What the agent's softphone shows: `state` is "idle", "ringing" (a routing offer rings
    their softphone), "connected" (they have the caller, maybe on hold) or "wrapup" (their
    part ended and the after-call work is open). `call` has its contact, queue and
    disposition loaded. `since`: when the state began (ringing, answered, after-call work
    started), for the panel's timer."""

    state: str
    call: Call | None = None
    since: datetime | None = None

    @property
    def on_hold(self) -> bool:
        return self.call is not None and self.call.hold_started_at is not None


def _calls() -> QuerySet[Call]:
    return Call.objects.select_related("contact", "queue", "disposition")


# A call, ring or after-call work older than this is not what the softphone shows (it bounds the
# rows read on every refresh of the panel, however long the agent's history).
SOFTPHONE_HORIZON = timedelta(hours=12)


def softphone_state_for(*, agent: AgentProfile) -> SoftphoneState:
    """The agent's current call in at most four queries, however many calls they had.

    Order of precedence: a connected call, then a ringing one, then the latest wrap-up still
    open (after-call work not finished by `call_wrapup` or its timer). Each query starts from
    an indexed column (the call's agent, the offers' work items, the events' kind and time)
    and looks back SOFTPHONE_HORIZON at most."""
    since = timezone.now() - SOFTPHONE_HORIZON
    live = _calls().filter(tenant_id=agent.tenant_id).exclude(status__in=TERMINAL_STATUSES)
    connected = (
        live.filter(agent=agent, answered_at__gte=since)
        .exclude(
            Exists(
                CallEvent.objects.filter(
                    call_id=OuterRef("pk"), kind="acw_start", payload__agent_id=agent.pk
                )
            )
        )
        .order_by("-answered_at")
        .first()
    )
    if connected is not None:
        return SoftphoneState("connected", connected, connected.answered_at)
    pending = Offer.objects.filter(agent=agent, status=Offer.Status.PENDING)
    ringing = (
        live.filter(
            work_item_id__in=pending.values("work_item_id"),
            ringing_offer_id__in=pending.values("pk"),
        )
        .order_by("-offered_at")
        .first()
    )
    if ringing is not None:
        return SoftphoneState("ringing", ringing, ringing.offered_at)
    # The latest after-call work of this agent that has not ended (by `call_wrapup` or its
    # timer): both edges are CallEvents carrying the agent's id.
    open_wrapup = (
        CallEvent.objects.filter(
            kind="acw_start",
            received_at__gte=since,
            payload__agent_id=agent.pk,
            call__tenant_id=agent.tenant_id,
        )
        .exclude(
            Exists(
                CallEvent.objects.filter(
                    call_id=OuterRef("call_id"), kind="acw_end", payload__agent_id=agent.pk
                )
            )
        )
        .order_by("-id")
        .values_list("call_id", "received_at")[:1]
    )
    started = next(iter(open_wrapup), None)
    if started is not None:
        call = _calls().filter(pk=started[0]).first()
        if call is not None:
            return SoftphoneState("wrapup", call, started[1])
    return SoftphoneState("idle")
