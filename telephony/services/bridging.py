"""From the queue to an agent's softphone and back: waiting, ringing, answering, hanging up.

The routing engine (crm) chooses the agent. When it offers a call's work item (`work.offered`),
`telephony.subscribers` enqueues `telephony.tasks.ring_agent`, which redirects the caller's live
call to the ring URL; that answers `<Dial><Client>agent_<user id></Client></Dial>`. The agent
answering accepts the offer; no answer declines it (the next agent is tried) and the caller goes
back into the queue with the same work item, so they keep their place.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm.events import publish
from crm.models import Offer, WorkItem
from crm.services.routing import (
    RoutingError,
    offer_accept,
    offer_decline,
    work_item_cancel,
    work_item_finish,
)
from telephony import twiml
from telephony.models import Call, CallOutcome, MaxWaitAction
from telephony.providers import get_voice_provider
from telephony.selectors import estimated_wait_seconds, queue_position
from telephony.services.after_call import after_call_twiml
from telephony.services.callbacks import callback_convert, queue_voice_settings
from telephony.services.calls import queue_name, voicemail_twiml
from telephony.services.common import (
    WebhookError,
    agent_identity,
    call_for_sid,
    event_record,
    hook_url,
    logger,
    speech_for,
)
from telephony.services.conference import conference_bridge_enabled
from telephony.services.conference_bridge import conference_ring_agent
from telephony.services.incall import call_agent_leg_ended
from telephony.services.recording_policy import recording_policy_for, recording_status_url
from telephony.services.timings import agent_leg_completed, talk_seconds_refresh, timings_update

ANSWERED_DIAL_STATUSES = frozenset({"completed", "answered"})
# Enqueue results after which the caller is no longer ours to route.
LEFT_QUEUE_RESULTS = frozenset({"leave", "queue-full", "error", "system-error"})


def _back_to_queue(call: Call) -> str:
    return twiml.enqueue(
        queue_name=queue_name(call.queue_id),
        wait_url=hook_url("voice-queue-wait", call.pk),
        action_url=hook_url("voice-queue-exit", call.pk),
    )


# --- waiting ---------------------------------------------------------------------------------


def call_queue_wait(*, call_sid: str, call_id: int, provider_position: int | None) -> str:
    """The wait URL: position (in the routing engine's order) and expected wait in the caller's
    language, then hold music. Requested again each time the music ends. Once the caller has
    waited the queue's `max_wait_seconds` (and is not being offered to an agent) they leave
    the queue, and `call_queue_exit` offers voicemail. Reads only."""
    call = call_for_sid(call_sid, call_id=call_id)
    item = WorkItem.objects.select_related("queue").filter(pk=call.work_item_id).first()
    if (
        item is not None
        and item.status == WorkItem.Status.WAITING
        and timezone.now() - item.enqueued_at >= timedelta(seconds=item.queue.max_wait_seconds)
    ):
        # Waited as long as the queue allows: a callback where the queue says so (keeping the
        # place in line), else leave; the Enqueue action then offers voicemail.
        voice = queue_voice_settings(call.queue_id)
        if (
            voice is not None
            and voice.max_wait_action == MaxWaitAction.CALLBACK
            and callback_convert(call=call, reason="max_wait") is not None
        ):
            speech = speech_for(call.tenant, call.menu)
            return twiml.say_leave(speech, speech.text("callback_confirmed"))
        return twiml.leave()
    voice = queue_voice_settings(call.queue_id)
    callback_url = ""
    if voice is not None and voice.callback_enabled and item is not None:
        callback_url = hook_url("voice-queue-callback", call.pk)
    position = queue_position(item) or provider_position
    minutes = None
    if position and call.queue_id:
        seconds = estimated_wait_seconds(queue_id=call.queue_id, position=position)
        minutes = max(1, round(seconds / 60))
    return twiml.queue_wait(
        speech_for(call.tenant, call.menu),
        position=position,
        wait_minutes=minutes,
        music_url=settings.TELEPHONY_HOLD_MUSIC_URL,
        callback_url=callback_url,
    )


def call_queue_exit(*, call_sid: str, call_id: int, result: str, payload: dict) -> str:
    """The Enqueue action: the caller left the provider's queue.

    `hangup` — they gave up waiting: the call is abandoned and its work item cancelled.
    `redirected`/`bridged` — we moved them to an agent: nothing to do. Errors and `leave` — the
    item is cancelled and the caller may leave a voicemail rather than be dropped.
    """
    call = call_for_sid(call_sid, call_id=call_id)
    key = f"queue:{call_sid}:{result}:{payload.get('QueueTime', '')}"
    fresh = event_record(key=key, kind="queue", call=call, call_sid=call_sid, payload=payload)
    if result == "hangup":
        if fresh:
            call_abandon(call=call)
        return twiml.EMPTY
    if result in LEFT_QUEUE_RESULTS and call.outcome == CallOutcome.CALLBACK_REQUESTED:
        return twiml.hangup()  # they were told "we will call you back" before leaving
    if result in LEFT_QUEUE_RESULTS:
        if fresh and call.work_item_id:
            work_item_cancel(item=WorkItem.objects.get(pk=call.work_item_id), reason=result)
        return voicemail_twiml(call=call, speech=speech_for(call.tenant, call.menu))
    return twiml.EMPTY


@transaction.atomic
def call_abandon(*, call: Call) -> None:
    """The caller hung up before an agent answered: abandoned, the work item cancelled.
    Idempotent; a call an agent already answered is left alone."""
    locked = (
        Call.objects.select_for_update(of=("self",)).select_related("work_item").get(pk=call.pk)
    )
    item = locked.work_item
    if locked.answered_at is not None or item is None:
        return
    if item.status in (WorkItem.Status.WAITING, WorkItem.Status.OFFERED):
        work_item_cancel(item=item, reason="caller_hung_up")
    if not locked.abandoned:
        locked.abandoned = True
        if locked.outcome in ("", CallOutcome.ENDED_IN_IVR):
            locked.outcome = CallOutcome.ABANDONED
        locked.ringing_offer_id = None
        timings_update(locked)
        locked.save()


# --- ringing an agent ------------------------------------------------------------------------


def call_ring_agent(*, call_id: int, offer_id: int) -> bool:
    """Ring the offered agent: redirect the caller's live call to the ring URL (Celery task).

    Runs once per offer: a repeated task finds `ringing_offer_id` already set and does nothing
    (the mark is removed again if the provider refuses, so a retry rings). A call that ended
    meanwhile has its item cancelled instead. Returns True when redirected.
    """
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(pk=call_id).first()
        offer = Offer.objects.filter(pk=offer_id).first()
        if call is None or offer is None or offer.status != Offer.Status.PENDING:
            return False
        if call.ringing_offer_id == offer.pk:
            return False
        if call.is_over:
            call_abandon(call=call)
            return False
        call.ringing_offer_id = offer.pk
        call.offered_at = offer.offered_at
        call.agent_id = offer.agent_id
        call.save(update_fields=["ringing_offer_id", "offered_at", "agent"])
    # Outside the transaction: a slow provider must not hold the call's row lock.
    try:
        if conference_bridge_enabled():
            # The agent's leg is placed first; the caller moves only once it is answered.
            conference_ring_agent(
                call=call, offer=offer, timeout=ring_timeout(offer, timezone.now())
            )
        else:
            get_voice_provider().update_call(
                call_sid=call.sid, url=hook_url("voice-ring", call.pk, offer.pk)
            )
    except Exception:
        # Not rung after all: let a retry of the task ring.
        Call.objects.filter(pk=call.pk, ringing_offer_id=offer.pk).update(ringing_offer_id=None)
        raise
    return True


def ring_timeout(offer: Offer, now: datetime) -> int:
    """Ring for the configured time, but stop two seconds before the offer would expire."""
    left = int((offer.expires_at - now).total_seconds()) - 2
    return max(5, min(settings.TELEPHONY_RING_TIMEOUT_SECONDS, left))


def call_ring(*, call_sid: str, call_id: int, offer_id: int) -> str:
    """The ring URL: dial the offered agent's softphone, or — when the offer is gone (expired,
    withdrawn) — put the caller back into the queue."""
    call = call_for_sid(call_sid, call_id=call_id)
    offer = (
        Offer.objects.select_related("agent")
        .filter(pk=offer_id, work_item_id=call.work_item_id)
        .first()
    )
    if offer is None or offer.status != Offer.Status.PENDING:
        return _back_to_queue(call)
    recording = recording_policy_for(call)
    speech = speech_for(call.tenant, call.menu)
    return twiml.ring_agent(
        identity=agent_identity(offer.agent.user_id),
        timeout=ring_timeout(offer, timezone.now()),
        action_url=hook_url("voice-dial", call.pk, offer.pk),
        leg_status_url=hook_url("voice-agent-leg", call.pk, offer.pk),
        recording_status_url=recording_status_url(call) if recording.record else "",
        announcement=speech.text("recording_notice") if recording.announce else "",
        speech=speech,
    )


# --- the agent answers, or does not -----------------------------------------------------------


def _answered(
    *,
    call: Call,
    offer: Offer,
    at: datetime | None,
    talk_seconds: int | None = None,
) -> Call:
    """The agent answered (lock the call first). Accepts the offer when still pending.

    `at` is the provider's timestamp of the agent leg answering, which always wins; None (the
    Dial action, which carries no timestamp) sets "now" only when nothing better is known.
    """
    if offer.status == Offer.Status.PENDING:
        try:
            offer_accept(offer=offer, agent=offer.agent)
        except RoutingError as exc:
            logger.warning("call %s: answered offer %s not accepted: %s", call.sid, offer.pk, exc)
    first = call.answered_at is None
    # `answered_at` is the *first* answer: a caller transferred to a queue and answered again
    # keeps it (the wait is about the first wait); talk is summed over all agent legs instead.
    if at is not None:
        call.answered_at = at if first else min(call.answered_at, at)
    elif first:
        call.answered_at = timezone.now()
    call.agent_id = offer.agent_id
    if talk_seconds is not None:
        call.talk_seconds = talk_seconds
    talk_seconds_refresh(call)
    if call.outcome in ("", CallOutcome.ENDED_IN_IVR, CallOutcome.ABANDONED):
        call.outcome = CallOutcome.ANSWERED
    call.abandoned = False
    timings_update(call)
    call.save()
    if first:
        publish(
            "call.answered",
            tenant_id=call.tenant_id,
            agent_user_id=offer.agent.user_id,
            payload={
                "call_id": call.pk,
                "agent_id": offer.agent_id,
                "queue_id": call.queue_id,
                "work_item_id": call.work_item_id,
                "contact_id": call.contact_id,
                "wait_seconds": call.wait_seconds,
            },
        )
    return call


def _offer_of(call: Call, offer_id: int) -> Offer:
    offer = (
        Offer.objects.select_related("agent")
        .filter(pk=offer_id, work_item_id=call.work_item_id)
        .first()
    )
    if offer is None:
        raise WebhookError(f"call {call.sid}: unknown offer {offer_id}", status=404)
    return offer


def call_agent_leg_status(
    *,
    call_id: int,
    offer_id: int,
    leg_sid: str,
    parent_sid: str,
    status: str,
    sequence: int | None,
    at: datetime | None,
    payload: dict,
) -> None:
    """Status callback of the agent's softphone leg: `in-progress` means the agent answered
    (at the provider's timestamp), which accepts the routing offer right away."""
    call = call_for_sid(parent_sid, call_id=call_id)
    key = f"leg:{leg_sid}:{sequence if sequence is not None else status}"
    with transaction.atomic():
        if not event_record(
            key=key, kind="agent_leg", call=call, call_sid=leg_sid, payload=payload
        ):
            return
        if status == "completed":
            agent_leg_completed(call=call)
            return
        if status not in ("in-progress", "answered"):
            return
        locked = Call.objects.select_for_update().get(pk=call.pk)
        _answered(call=locked, offer=_offer_of(locked, offer_id), at=at)


def call_dial_result(
    *,
    call_sid: str,
    call_id: int,
    offer_id: int,
    dial_status: str,
    dial_duration: int | None,
    payload: dict,
) -> str:
    """The ring URL's Dial action.

    completed/answered: the agent took the call and the conversation is over — the offer is
    accepted (if the leg callback did not already), the work item finished, the caller hung up.
    no-answer/busy/failed/canceled: the offer is declined, the next agent is tried, and the
    caller goes back into the queue keeping their place (same work item, same enqueued_at).
    """
    call = call_for_sid(call_sid, call_id=call_id)
    answered = dial_status in ANSWERED_DIAL_STATUSES
    with transaction.atomic():
        key = f"dial:{call_sid}:{offer_id}"
        fresh = event_record(key=key, kind="dial", call=call, call_sid=call_sid, payload=payload)
        if fresh:
            locked = (
                Call.objects.select_for_update(of=("self",))
                .select_related("work_item")
                .get(pk=call.pk)
            )
            offer = _offer_of(locked, offer_id)
            if answered:
                _answered(call=locked, offer=offer, at=None, talk_seconds=dial_duration)
                # The agent's leg ended: after-call work first, so finishing the item below
                # offers them no new work until they have wrapped up.
                call_agent_leg_ended(call=locked, agent=offer.agent)
                if locked.work_item is not None:
                    locked.work_item.refresh_from_db()
                    work_item_finish(item=locked.work_item)
            else:
                _not_answered(call=locked, offer=offer)
                call = locked
    if answered:
        # A post-call survey (registered by a higher app) may keep the caller on the line.
        return after_call_twiml(call) or twiml.hangup()
    if call.is_over or call.abandoned:
        return twiml.EMPTY
    return _back_to_queue(call)


def _not_answered(*, call: Call, offer: Offer) -> None:
    if call.ringing_offer_id == offer.pk:
        call.ringing_offer_id = None
        call.save(update_fields=["ringing_offer_id"])
    if offer.status == Offer.Status.PENDING:
        try:
            offer_decline(offer=offer, agent=offer.agent)
        except RoutingError as exc:
            logger.info("call %s: offer %s not declined: %s", call.sid, offer.pk, exc)
    if call.is_over:
        # The caller hung up while the agent's phone rang.
        call_abandon(call=call)
