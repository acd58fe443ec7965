"""Callbacks: a waiting caller presses 1 (or waits the queue's maximum) and is called back.

The caller's own work item is converted to kind "callback" in place, so it keeps its
`enqueued_at` and priority — its place in line. The live call ends politely and is recorded
with the outcome "callback_requested" (and no longer points at the work item, so its hang-up
does not cancel it). When the routing engine's offer of the callback is accepted
(`work.assigned`), the `callback_dial` task places an outbound call through the click-to-call
flow: the agent's browser first, then the customer.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from crm.events import publish
from crm.identities import normalize_phone
from crm.models import AgentProfile, WorkItem
from telephony import twiml
from telephony.models import Call, CallbackRequest, CallOutcome, QueueVoiceSettings
from telephony.services.common import call_for_sid, hook_url, logger, speech_for
from telephony.services.outbound import outbound_call_create, outbound_call_place

CALLBACK_REF_TYPE = "telephony.callback"
CALLBACK_DIGIT = "1"


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
        callback.save(update_fields=["status", "outbound_call"])
    outbound_call_place(call_id=call.pk)
    call.refresh_from_db()
    return call
