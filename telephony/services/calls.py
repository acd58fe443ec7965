"""An incoming call from its first webhook through the IVR to a queue.

Every function answers the TwiML Twilio executes next. Each is idempotent: Twilio retries and a
duplicate delivery returns the same TwiML without writing new rows (the Call is keyed on its
CallSid, queue entry happens once per call, outcomes are only set while unset).
"""

from __future__ import annotations

from contextlib import nullcontext

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from crm.events import publish
from crm.models import ChannelKind, Queue, WorkItem
from crm.selectors.contacts import contact_by_phone
from crm.services.routing import work_item_enqueue
from crm.services.timeline import timeline_add
from telephony import twiml
from telephony.config_cache import incoming_number
from telephony.models import Call, CallOutcome, IvrAction, IvrMenu, IvrOption, PhoneNumber
from telephony.services.common import WebhookError, call_for_sid, hook_url, logger, speech_for
from telephony.services.hours import is_open
from telephony.services.prompts import Speech

REF_TYPE = "telephony.call"


def queue_name(queue: Queue | int) -> str:
    """The provider-side queue a crm.Queue's callers wait in (one per queue)."""
    return f"cc-{queue if isinstance(queue, int) else queue.pk}"


# --- incoming call ---------------------------------------------------------------------------


def call_incoming(*, call_sid: str, from_number: str, to_number: str) -> str:
    """Answer `POST /hooks/twilio/voice/`: find the tenant by the called number, create the Call
    (once per CallSid), match the caller to a contact, check business hours, and answer with the
    entry menu (or queue). An unknown called number gets a polite message and a warning log.

    A fixed number of queries whatever the tenant's configuration (asserted in the tests);
    the number's configuration comes from the per-process cache (telephony.config_cache).
    """
    number = incoming_number(to_number)
    if number is None:
        logger.warning("incoming call %s to unknown number %s", call_sid, to_number)
        speech = Speech.for_language("en")
        return twiml.say_hangup(speech, speech.text("unknown_number"))
    # No lookup first: a new CallSid is the common case, a repeated one hits the unique
    # constraint and `_call_create` returns the stored call.
    call = _call_create(number=number, call_sid=call_sid, from_number=from_number)
    if call.tenant_id != number.tenant_id:
        raise WebhookError(f"call {call_sid} belongs to another number", status=400)
    call.tenant = number.tenant
    return _entry_twiml(call=call, number=number)


def _call_create(*, number: PhoneNumber, call_sid: str, from_number: str) -> Call:
    now = timezone.now()
    tenant = number.tenant
    try:
        # The region is only used for numbers without a country code; Twilio sends E.164.
        contact = contact_by_phone(
            tenant_id=tenant.pk, phone=from_number, region=tenant.default_region
        )
    except ValidationError:
        contact = None  # "anonymous", "client:..." and other non-numbers
    closed = not (
        is_open(number.business_hours, now)
        and (number.entry_menu is None or is_open(number.entry_menu.business_hours, now))
    )
    # One INSERT is its own transaction in autocommit mode: BEGIN and COMMIT would be two more
    # round trips on the hottest webhook (benchmarks/voice_webhooks.py). A savepoint is taken
    # only inside a caller's transaction, so that a duplicate CallSid leaves it usable. The
    # timeline entry of a known caller follows in its own statement: should it fail, the call
    # stands and only its "call received" line is missing.
    savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
    try:
        with savepoint:
            call = Call.objects.create(
                tenant=tenant,
                sid=call_sid,
                direction=Call.Direction.INBOUND,
                from_number=from_number,
                to_number=number.number,
                phone_number=number,
                contact=contact,
                after_hours=closed,
                menu=number.entry_menu,
                started_at=now,
                outcome=CallOutcome.CLOSED if closed and number.entry_menu is None else "",
            )
            payload = {
                "call_id": call.pk,
                "call_sid": call_sid,
                "from": from_number,
                "to": number.number,
                "phone_number_id": number.pk,
                "contact_id": contact.pk if contact else None,
                "after_hours": closed,
            }
            if contact is not None:
                timeline_add(
                    tenant_id=tenant.pk,
                    contact=contact,
                    kind="call.received",
                    summary=f"Call from {from_number} to {number.name}",
                    data=payload,
                    ref_type=REF_TYPE,
                    ref_id=call.pk,
                    occurred_at=now,
                )
            publish("call.received", tenant_id=tenant.pk, payload=payload)
    except IntegrityError:
        # The same CallSid delivered twice at once: the other request created it.
        return Call.objects.get(sid=call_sid)
    return call


def _entry_twiml(*, call: Call, number: PhoneNumber) -> str:
    menu = number.entry_menu
    if menu is not None:
        return _menu_twiml(call=call, menu=menu, closed=call.after_hours)
    speech = speech_for(call.tenant)
    if call.after_hours:
        return twiml.say_hangup(speech, speech.text("closed"))
    if number.entry_queue is None:
        logger.warning("phone number %s has neither an entry menu nor a queue", number.number)
        return twiml.say_hangup(speech, speech.text("queue_problem"))
    return call_enqueue(call=call, queue=number.entry_queue)


def _menu_twiml(
    *, call: Call, menu: IvrMenu, closed: bool | None = None, attempt: int = 0, prefix: str = ""
) -> str:
    """The menu's greeting, or its after-hours branch when its schedule is closed."""
    if closed is None:
        closed = not is_open(menu.business_hours, timezone.now())
    speech = speech_for(call.tenant, menu)
    if closed:
        if menu.after_hours_action == IvrAction.VOICEMAIL:
            return voicemail_twiml(call=call, speech=speech)
        if menu.after_hours_action == IvrAction.SUBMENU and menu.after_hours_menu_id:
            after = IvrMenu.objects.filter(pk=menu.after_hours_menu_id).first()
            if after is not None and after.pk != menu.pk:
                _set_menu(call, after)
                # The after-hours menu is what callers get when closed: no second check.
                return _menu_twiml(call=call, menu=after, closed=False)
        _set_outcome(call, CallOutcome.CLOSED)
        return twiml.say_hangup(speech, menu.after_hours_message or speech.text("closed"))
    return twiml.menu(
        speech,
        action_url=hook_url("voice-gather", menu.pk, attempt),
        greeting_text=menu.greeting_text,
        greeting_audio_url=menu.greeting_audio_url,
        timeout_seconds=menu.timeout_seconds,
        listen_for_speech=any(option.speech_keyword for option in menu.options.all()),
        prefix=prefix,
    )


# --- gather ----------------------------------------------------------------------------------


def call_gather(
    *, call_sid: str, menu_id: int, attempt: int, digits: str, speech_result: str
) -> str:
    """The caller pressed a key, said something, or stayed silent in menu `menu_id`.

    A known key (or spoken keyword) runs its option; anything else repeats the menu with the
    invalid-input or timeout message, up to the menu's retries, then says goodbye.
    """
    call = call_for_sid(call_sid)
    menu = (
        IvrMenu.objects.select_related("business_hours")
        .prefetch_related("options", "business_hours__rules", "business_hours__holidays")
        .filter(pk=menu_id, tenant_id=call.tenant_id)
        .first()
    )
    if menu is None:
        raise WebhookError(f"unknown menu {menu_id}", status=404)
    option = _match(list(menu.options.all()), digits=digits, speech_result=speech_result)
    speech = speech_for(call.tenant, menu)
    if option is None:
        silent = not digits and not speech_result
        if attempt >= menu.max_retries:
            _set_outcome(call, CallOutcome.ENDED_IN_IVR)
            return twiml.say_hangup(speech, speech.text("goodbye_no_input"))
        if silent:
            message = menu.timeout_message or speech.text("timeout")
        else:
            message = menu.invalid_message or speech.text("invalid")
        return _menu_twiml(call=call, menu=menu, closed=False, attempt=attempt + 1, prefix=message)
    return _run_option(call=call, option=option, speech=speech)


def _match(options: list[IvrOption], *, digits: str, speech_result: str) -> IvrOption | None:
    if digits:
        return next((o for o in options if o.digit == digits[:1]), None)
    said = speech_result.casefold()
    if said:
        return next(
            (o for o in options if o.speech_keyword and o.speech_keyword.casefold() in said), None
        )
    return None


def _run_option(*, call: Call, option: IvrOption, speech: Speech) -> str:
    if option.action == IvrAction.SUBMENU and option.target_menu_id:
        target = (
            IvrMenu.objects.select_related("business_hours")
            .prefetch_related("options", "business_hours__rules", "business_hours__holidays")
            .get(pk=option.target_menu_id)
        )
        _set_menu(call, target)
        return _menu_twiml(call=call, menu=target)
    if option.action == IvrAction.QUEUE and option.target_queue_id:
        return call_enqueue(call=call, queue=Queue.objects.get(pk=option.target_queue_id))
    if option.action == IvrAction.VOICEMAIL:
        return voicemail_twiml(call=call, speech=speech)
    if option.action == IvrAction.EXTERNAL and option.target_number:
        _set_outcome(call, CallOutcome.FORWARDED)
        return twiml.dial_number(
            speech,
            number=option.target_number,
            caller_id=call.to_number,
            text=speech.text("connecting"),
        )
    _set_outcome(call, CallOutcome.ENDED_IN_IVR)
    return twiml.say_hangup(speech, speech.text("goodbye"))


def _set_menu(call: Call, menu: IvrMenu) -> None:
    Call.objects.filter(pk=call.pk).update(menu=menu)
    call.menu = menu


def _set_outcome(call: Call, outcome: str) -> None:
    """Record how the call ended up, unless something decided that already (idempotent)."""
    Call.objects.filter(pk=call.pk, outcome="").update(outcome=outcome)


# --- queue entry -----------------------------------------------------------------------------


def call_enqueue(*, call: Call, queue: Queue) -> str:
    """Put the caller in `queue`: a routing work item (voice, kind call) is created once per
    call, then the caller waits in the provider's queue until an agent is rung.

    A caller sent back to the queue (their agent did not answer) keeps the same work item,
    hence their place in line. Raises nothing for a repeated delivery: same TwiML, no rows.
    """
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.work_item_id is None and not locked.is_over:
            item = call_work_item_attach(call=locked, queue=queue)
            locked.queued_at = item.enqueued_at
            locked.save(update_fields=["queue", "work_item", "queued_at"])
            publish(
                "call.queued",
                tenant_id=locked.tenant_id,
                payload={
                    "call_id": locked.pk,
                    "queue_id": queue.pk,
                    "work_item_id": item.pk,
                    "contact_id": locked.contact_id,
                },
            )
        queue_id = locked.queue_id or queue.pk
    return enqueue_twiml(call=call, queue_id=queue_id)


def call_work_item_attach(*, call: Call, queue: Queue, priority: int = 0) -> WorkItem:
    """Put a locked call in line for `queue` through the routing engine and point the call at
    its new work item (the caller saves the call). Shared by queue entry and queue transfer."""
    item = work_item_enqueue(
        tenant_id=call.tenant_id,
        queue=queue,
        kind=WorkItem.Kind.CALL,
        channel_kind=ChannelKind.VOICE,
        ref_type=REF_TYPE,
        ref_id=str(call.pk),
        priority=priority,
    )
    call.queue = queue
    call.work_item = item
    return item


def enqueue_twiml(*, call: Call, queue_id: int) -> str:
    """`<Enqueue>` into the provider-side queue, with our wait and exit URLs for this call."""
    return twiml.enqueue(
        queue_name=queue_name(queue_id),
        wait_url=hook_url("voice-queue-wait", call.pk),
        action_url=hook_url("voice-queue-exit", call.pk),
    )


def voicemail_twiml(*, call: Call, speech: Speech) -> str:
    return twiml.voicemail(
        speech,
        prompt=speech.text("voicemail"),
        action_url=hook_url("voice-voicemail", call.pk),
        recording_status_url=hook_url("voice-recording", call.pk) + "?kind=voicemail",
        transcription_url=hook_url("voice-transcription", call.pk),
    )


def hold_music_url() -> str:
    return settings.TELEPHONY_HOLD_MUSIC_URL
