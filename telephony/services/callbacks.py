"""Callbacks: a waiting caller presses 1 (or waits the queue's maximum) and is called back.

The caller's own work item is converted to kind "callback" in place, so it keeps its
`enqueued_at` and priority — its place in line. The live call ends politely and is recorded
with the outcome "callback_requested" (and no longer points at the work item, so its hang-up
does not cancel it). When the routing engine's offer of the callback is accepted
(`work.assigned`), the `callback_dial` task places an outbound call through the click-to-call
flow: the agent's browser first, then the customer.

Retries and expiry. When the callback's call ends (`callback_attempt_ended`, from the
`call.ended` subscriber): answered → DONE; not answered → RETRY, tried again
TELEPHONY_CALLBACK_RETRY_MINUTES later, until TELEPHONY_CALLBACK_MAX_ATTEMPTS calls were placed
(then FAILED). A callback nobody reached within TELEPHONY_CALLBACK_EXPIRY_MINUTES of its booking
EXPIRES: its waiting work item is cancelled. `callbacks_tick` (Celery beat, once a minute) puts
due retries back in the queue and expires overdue callbacks; both are safe to run twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.events import publish
from crm.identities import normalize_phone
from crm.models import AgentProfile, ChannelKind, WorkItem
from crm.services.routing import work_item_cancel, work_item_enqueue
from telephony import twiml
from telephony.models import Call, CallbackRequest, CallOutcome, QueueVoiceSettings
from telephony.services.common import call_for_sid, hook_url, logger, speech_for
from telephony.services.outbound import outbound_call_create, outbound_call_place

CALLBACK_REF_TYPE = "telephony.callback"
CALLBACK_DIGIT = "1"
# Open callbacks: still to be reached by an agent (waiting in the queue or between attempts).
OPEN_STATUSES = (CallbackRequest.Status.WAITING, CallbackRequest.Status.RETRY)


def _max_attempts() -> int:
    return max(1, getattr(django_settings, "TELEPHONY_CALLBACK_MAX_ATTEMPTS", 3))


def _retry_delay() -> timedelta:
    return timedelta(minutes=getattr(django_settings, "TELEPHONY_CALLBACK_RETRY_MINUTES", 10))


def _expiry() -> timedelta:
    return timedelta(minutes=getattr(django_settings, "TELEPHONY_CALLBACK_EXPIRY_MINUTES", 240))


def queue_voice_settings(queue_id: int | None) -> QueueVoiceSettings | None:
    if queue_id is None:
        return None
    return QueueVoiceSettings.objects.filter(queue_id=queue_id).first()


@transaction.atomic
def callback_convert(*, call: Call, reason: str) -> CallbackRequest | None:
    """Turn a waiting caller's work item into a callback (idempotent: a second request returns
    the existing one). None when the caller cannot be called back: no callable number, or the
    item is no longer waiting (an agent's phone is already ringing for it)."""
    locked = Call.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=call.pk)
    existing = CallbackRequest.objects.filter(call=locked).first()
    if existing is not None:
        return existing
    if locked.work_item_id is None or locked.is_over:
        return None
    try:
        number = normalize_phone(locked.from_number, region=locked.tenant.default_region)
    except ValidationError:
        return None
    item = WorkItem.objects.select_for_update().get(pk=locked.work_item_id)
    if item.status != WorkItem.Status.WAITING:
        return None
    callback = CallbackRequest.objects.create(
        tenant_id=locked.tenant_id,
        call=locked,
        work_item=item,
        contact_id=locked.contact_id,
        number=number,
        reason=reason,
        expires_at=timezone.now() + _expiry(),
    )
    # Same row: same enqueued_at and priority, so the same place in line.
    WorkItem.objects.filter(pk=item.pk).update(
        kind=WorkItem.Kind.CALLBACK, ref_type=CALLBACK_REF_TYPE, ref_id=str(callback.pk)
    )
    locked.work_item = None
    locked.ringing_offer_id = None
    locked.outcome = CallOutcome.CALLBACK_REQUESTED
    locked.save(update_fields=["work_item", "ringing_offer_id", "outcome"])
    publish(
        "call.callback_requested",
        tenant_id=locked.tenant_id,
        payload={
            "call_id": locked.pk,
            "callback_id": callback.pk,
            "work_item_id": item.pk,
            "queue_id": item.queue_id,
            "contact_id": locked.contact_id,
            "reason": reason,
        },
    )
    return callback


def callback_gather(*, call_sid: str, call_id: int, digits: str) -> str:
    """The key a waiting caller pressed during the queue announcements. "1" books a callback
    and takes the caller out of the queue with a goodbye; anything else keeps them waiting."""
    call = call_for_sid(call_sid, call_id=call_id)
    settings = queue_voice_settings(call.queue_id)
    if (
        digits[:1] == CALLBACK_DIGIT
        and settings is not None
        and settings.callback_enabled
        and callback_convert(call=call, reason="pressed") is not None
    ):
        speech = speech_for(call.tenant, call.menu)
        return twiml.say_leave(speech, speech.text("callback_confirmed"))
    return redirect_to_wait(call)


def redirect_to_wait(call: Call) -> str:
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.redirect(hook_url("voice-queue-wait", call.pk), method="POST")
    return str(response)


def callback_dial(*, callback_id: int) -> Call | None:
    """The callback's work item was accepted by an agent: call the customer back (Celery task).
    Once per callback; the outbound call carries the work item, so its end finishes it."""
    with transaction.atomic():
        callback = (
            CallbackRequest.objects.select_for_update(of=("self",))
            .select_related("tenant", "contact", "call__phone_number")
            .filter(pk=callback_id)
            .first()
        )
        if callback is None or callback.status != CallbackRequest.Status.WAITING:
            return None
        item = WorkItem.objects.filter(pk=callback.work_item_id).first()
        if item is None or item.status != WorkItem.Status.ASSIGNED or item.agent_id is None:
            logger.info("callback %s: work item not assigned, not dialled", callback_id)
            return None
        agent = AgentProfile.objects.get(pk=item.agent_id)
        try:
            call = outbound_call_create(
                tenant=callback.tenant,
                agent=agent,
                number=callback.number,
                contact=callback.contact,
                work_item=item,
                caller_asked=True,
                fallback_caller_id=callback.call.phone_number,
            )
        except ValidationError as exc:
            logger.warning("callback %s cannot be dialled: %s", callback_id, exc)
            callback.status = CallbackRequest.Status.FAILED
            callback.save(update_fields=["status"])
            return None
        callback.status = CallbackRequest.Status.DIALLING
        callback.outbound_call = call
        callback.attempts += 1
        callback.save(update_fields=["status", "outbound_call", "attempts"])
    outbound_call_place(call_id=call.pk)
    call.refresh_from_db()
    return call


# --- retries and expiry -----------------------------------------------------------------------


@transaction.atomic
def callback_attempt_ended(*, call_id: int) -> CallbackRequest | None:
    """The call placed for a callback ended (its terminal status, or its Dial action arriving
    after it): DONE when the customer answered; else RETRY after the retry delay, or FAILED
    once the attempts are used up, or EXPIRED when the next try would come after the expiry.

    Order-tolerant and idempotent: a settled attempt only changes again to DONE, when the
    provider's answer (`outcome` answered) arrives after the end. Returns the callback, or None
    when the call was not a callback's current attempt."""
    callback = (
        CallbackRequest.objects.select_for_update(of=("self",))
        .select_related("outbound_call")
        .filter(outbound_call_id=call_id)
        .exclude(status=CallbackRequest.Status.DONE)
        .first()
    )
    if callback is None:
        return None
    now = timezone.now()
    call = callback.outbound_call
    if call.outcome == CallOutcome.ANSWERED:
        callback.status = CallbackRequest.Status.DONE
        callback.next_attempt_at = None
    elif callback.status != CallbackRequest.Status.DIALLING or not call.is_over:
        return callback
    elif callback.attempts >= _max_attempts():
        callback.status = CallbackRequest.Status.FAILED
    elif callback.expires_at is not None and now + _retry_delay() >= callback.expires_at:
        callback.status = CallbackRequest.Status.EXPIRED
    else:
        callback.status = CallbackRequest.Status.RETRY
        callback.next_attempt_at = now + _retry_delay()
    callback.save(update_fields=["status", "next_attempt_at"])
    logger.info("callback %s after attempt %s: %s", callback.pk, callback.attempts, callback.status)
    return callback


def _requeue(callback: CallbackRequest) -> WorkItem | None:
    """A new work item for a callback due for another try, in the queue of the original call,
    one priority step above the first (the customer has waited since the booking)."""
    queue = callback.call.queue
    if queue is None:
        callback.status = CallbackRequest.Status.FAILED
        callback.save(update_fields=["status"])
        return None
    previous = callback.work_item
    item = work_item_enqueue(
        tenant_id=callback.tenant_id,
        queue=queue,
        kind=WorkItem.Kind.CALLBACK,
        channel_kind=ChannelKind.VOICE,
        ref_type=CALLBACK_REF_TYPE,
        ref_id=str(callback.pk),
        priority=(previous.priority if previous is not None else 0) + 1,
    )
    callback.work_item = item
    callback.status = CallbackRequest.Status.WAITING
    callback.next_attempt_at = None
    callback.save(update_fields=["work_item", "status", "next_attempt_at"])
    return item


def _expire(callback: CallbackRequest) -> None:
    item = callback.work_item
    if item is not None and item.status in (WorkItem.Status.WAITING, WorkItem.Status.OFFERED):
        work_item_cancel(item=item, reason="callback_expired")
    callback.status = CallbackRequest.Status.EXPIRED
    callback.next_attempt_at = None
    callback.save(update_fields=["status", "next_attempt_at"])


def callbacks_tick(*, now: datetime | None = None, limit: int = 200) -> tuple[int, int]:
    """Put callbacks due for another try back in their queue and expire the overdue ones
    (Celery beat, once a minute). Returns (requeued, expired).

    A callback an agent already accepted (its item ASSIGNED) is left to that agent even when
    overdue. Each callback is handled in its own transaction under a row lock taken with
    SKIP LOCKED where the database has it, so two ticks never requeue one callback twice.
    """
    now = now or timezone.now()
    requeued = expired = 0
    overdue = list(
        CallbackRequest.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    due = list(
        CallbackRequest.objects.filter(
            status=CallbackRequest.Status.RETRY, next_attempt_at__lte=now
        )
        .exclude(pk__in=overdue)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk, action in [(pk, "expire") for pk in overdue] + [(pk, "requeue") for pk in due]:
        with transaction.atomic():
            callback = (
                CallbackRequest.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("work_item", "call__queue")
                .filter(pk=pk)
                .first()
            )
            if callback is None:
                continue  # another tick has it
            if action == "expire" and callback.status in OPEN_STATUSES:
                if callback.work_item is not None and (
                    callback.work_item.status == WorkItem.Status.ASSIGNED
                ):
                    continue
                _expire(callback)
                expired += 1
            elif (
                action == "requeue"
                and callback.status == CallbackRequest.Status.RETRY
                and callback.next_attempt_at is not None
                and callback.next_attempt_at <= now
                and _requeue(callback) is not None
            ):
                requeued += 1
    return requeued, expired
