"""Reads of telephony data shared by webhooks, pages and tasks."""

from __future__ import annotations

from django.db.models import Q

from crm.models import WorkItem
from crm.services.routing import waiting_order
from telephony.models import Call, CallOutcome, PhoneNumber

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
