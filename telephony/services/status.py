"""Call status callbacks: idempotent, order-tolerant, never moving a call backwards."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crm.events import publish
from crm.models import Offer, WorkItem
from crm.services.routing import work_item_finish
from crm.services.timeline import timeline_add
from telephony.models import TERMINAL_STATUSES, Call, CallEvent, CallOutcome, CallStatus
from telephony.models.calls import STATUS_RANK
from telephony.services.bridging import call_abandon
from telephony.services.callbacks import callback_attempt_ended
from telephony.services.calls import REF_TYPE
from telephony.services.common import WebhookError, event_record, logger
from telephony.services.timings import timings_update

# Twilio's callback events map onto call statuses ("initiated" is our "queued").
_STATUS_ALIASES = {"initiated": CallStatus.QUEUED, "answered": CallStatus.IN_PROGRESS}
_START = ["initiated", "queued", "ringing"]


def call_status_update(
    *,
    call_sid: str,
    status: str,
    sequence: int | None,
    at: datetime | None,
    duration: int | None,
    payload: dict,
) -> bool:
    """Apply one status callback. Returns False for a duplicate or an unknown CallSid (the
    delivery is still recorded as a CallEvent without a call, then ignored).

    Keyed on CallSid + SequenceNumber (unique CallEvent). A status only moves up the ladder
    queued < ringing < in-progress < terminal, so a late `ringing` never reopens a finished
    call. Timestamps merge as min (start) and min (end), so order does not change the result.
    On the terminal status the call's work item is finished (an agent had it) or cancelled (the
    caller hung up waiting: abandoned).
    """
    status = _STATUS_ALIASES.get(status, status)
    if status not in STATUS_RANK:
        raise WebhookError(f"unknown CallStatus {status!r}")
    key = f"status:{call_sid}:{sequence if sequence is not None else status}"
    call = Call.objects.filter(sid=call_sid).first()
    if call is None:
        event_record(key=key, kind="status", call=None, call_sid=call_sid, payload=payload)
        logger.info("status callback for unknown call %s ignored", call_sid)
        return False
    with transaction.atomic():
        if not event_record(key=key, kind="status", call=call, call_sid=call_sid, payload=payload):
            return False
        locked = (
            Call.objects.select_for_update(of=("self",)).select_related("work_item").get(pk=call.pk)
        )
        was_over = locked.is_over
        if sequence is not None and (
            locked.last_sequence_number is None or sequence > locked.last_sequence_number
        ):
            locked.last_sequence_number = sequence
        if STATUS_RANK[status] > STATUS_RANK[locked.status]:
            locked.status = status
        if at is not None and status in (CallStatus.QUEUED, CallStatus.RINGING):
            # The provider's clock wins over our receipt time; among its timestamps, the
            # earliest (so the order of arrival does not matter).
            earlier = (
                CallEvent.objects.filter(call=locked, kind="status", payload__CallStatus__in=_START)
                .exclude(key=key)
                .exists()
            )
            locked.started_at = min(locked.started_at, at) if earlier else at
        if status in TERMINAL_STATUSES:
            end = at or timezone.now()
            locked.ended_at = end if locked.ended_at is None else min(locked.ended_at, end)
            if duration is not None:
                locked.duration_seconds = duration
        timings_update(locked)
        locked.save()
        if locked.is_over and not was_over:
            _call_ended(locked)
    return True


def _call_ended(call: Call) -> None:
    """First terminal status: settle the work item, then announce the end."""
    item = call.work_item
    if item is not None:
        item.refresh_from_db()
        pending_ring = (
            item.status == WorkItem.Status.OFFERED
            and call.ringing_offer_id is not None
            and Offer.objects.filter(pk=call.ringing_offer_id, status=Offer.Status.PENDING).exists()
        )
        if item.status == WorkItem.Status.ASSIGNED:
            work_item_finish(item=item)
        elif item.status in (WorkItem.Status.WAITING, WorkItem.Status.OFFERED) and not pending_ring:
            call_abandon(call=call)
            call.refresh_from_db()
        # With the agent's phone still ringing, the Dial action decides (answered or not);
        # should it never come, the offer expires and the ring task abandons the call.
    if call.direction == Call.Direction.OUTBOUND_API:
        callback_attempt_ended(call_id=call.pk)  # a callback's attempt: done or try again
    if call.outcome == "" and item is None:
        Call.objects.filter(pk=call.pk, outcome="").update(outcome=CallOutcome.ENDED_IN_IVR)
        call.outcome = CallOutcome.ENDED_IN_IVR
    payload = {
        "call_id": call.pk,
        "status": call.status,
        "outcome": call.outcome,
        "abandoned": call.abandoned,
        "agent_id": call.agent_id,
        "queue_id": call.queue_id,
        "wait_seconds": call.wait_seconds,
        "ring_seconds": call.ring_seconds,
        "talk_seconds": call.talk_seconds,
        "duration_seconds": call.duration_seconds,
    }
    publish("call.ended", tenant_id=call.tenant_id, payload=payload)
    if call.contact_id is not None:
        timeline_add(
            tenant_id=call.tenant_id,
            contact=call.contact,
            kind="call.ended",
            # Only what every delivery order agrees on: the outcome can still change (a
            # voicemail recorded after the hang-up is reported later).
            summary=f"Call from {call.from_number} ended",
            data={"call_id": call.pk, "duration_seconds": call.duration_seconds},
            ref_type=REF_TYPE,
            ref_id=call.pk,
            occurred_at=call.ended_at,
        )
