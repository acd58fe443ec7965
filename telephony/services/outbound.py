"""Outbound calls placed by the app: click-to-call from a contact or ticket, and callbacks.

The agent's browser leg comes first: `outbound_call_request` (in the API request) validates
and writes the Call (direction outbound-api, a provisional sid) and its `OutboundCall`, and
after commit a Celery task runs `outbound_call_place`, which asks the provider to call
`client:agent_<user id>`. When the agent answers, the provider fetches `outbound_connect`,
whose TwiML dials the customer with the tenant's outbound caller ID. The Dial action
(`outbound_dial_result`) and the customer leg's status callback (`outbound_leg_status`) record
how it went; the call's own status callbacks go to the usual `voice-status` webhook.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.identities import normalize_phone
from crm.models import AgentProfile, Contact, Tenant, Ticket, WorkItem
from crm.services.timeline import timeline_add
from crm.tenancy import Principal
from telephony import twiml
from telephony.models import Call, CallOutcome, CallStatus, OutboundCall, PhoneNumber
from telephony.providers import get_voice_provider
from telephony.services.calls import REF_TYPE
from telephony.services.common import (
    WebhookError,
    agent_identity,
    call_for_sid,
    event_record,
    hook_url,
    logger,
    speech_for,
)
from telephony.services.recording_policy import recording_policy_for, recording_status_url
from telephony.services.timings import timings_update

PROVISIONAL_SID_PREFIX = "pending-"
CUSTOMER_RING_SECONDS = 30


def caller_id_for(tenant_id: int) -> PhoneNumber | None:
    return PhoneNumber.objects.filter(tenant_id=tenant_id, is_outbound_caller_id=True).first()


@transaction.atomic
def outbound_call_create(
    *,
    tenant: Tenant,
    agent: AgentProfile,
    number: str,
    contact: Contact | None = None,
    ticket: Ticket | None = None,
    requested_by: Principal | None = None,
    work_item: WorkItem | None = None,
    caller_asked: bool = False,
    fallback_caller_id: PhoneNumber | None = None,
) -> Call:
    """Validate and write an outbound call (not yet placed). Raises ValidationError with the
    reason: no outbound caller ID, an invalid number, or a contact who refused calls (unless
    `caller_asked`: a callback the customer requested). `fallback_caller_id` is shown when the
    tenant has no outbound caller ID (a callback shows the number the customer rang)."""
    caller_id = caller_id_for(tenant.pk) or fallback_caller_id
    if caller_id is None:
        raise ValidationError(
            {"non_field_errors": ["This tenant has no outbound caller ID number."]},
            code="no_caller_id",
        )
    if contact is not None and not contact.consent_calls and not caller_asked:
        raise ValidationError(
            {"contact": ["This contact does not want to be called."]}, code="no_consent"
        )
    try:
        number = normalize_phone(number, region=tenant.default_region)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}, code="invalid_phone") from exc
    now = timezone.now()
    call = Call.objects.create(
        tenant=tenant,
        sid=PROVISIONAL_SID_PREFIX + uuid.uuid4().hex,
        direction=Call.Direction.OUTBOUND_API,
        from_number=caller_id.number,
        to_number=number,
        phone_number=caller_id,
        contact=contact,
        agent=agent,
        work_item=work_item,
        status=CallStatus.QUEUED,
        started_at=now,
    )
    OutboundCall.objects.create(
        tenant=tenant,
        call=call,
        agent=agent,
        ticket=ticket,
        requested_by=requested_by.user if requested_by is not None else None,
    )
    if contact is not None:
        timeline_add(
            tenant_id=tenant.pk,
            contact=contact,
            kind="call.outbound",
            summary=f"Outbound call to {number}",
            actor=requested_by,
            ticket=ticket,
            data={"call_id": call.pk, "to": number, "agent_id": agent.pk},
            ref_type=REF_TYPE,
            ref_id=call.pk,
            occurred_at=now,
        )
    return call


def outbound_call_place(*, call_id: int) -> str | None:
    """Ask the provider to ring the agent's browser (Celery task). Runs once per call: a
    repeat finds the real CallSid already stored. Returns the CallSid."""
    call = Call.objects.filter(pk=call_id).select_related("agent").first()
    if call is None or call.agent is None:
        return None
    if not call.sid.startswith(PROVISIONAL_SID_PREFIX):
        return call.sid
    call_sid = get_voice_provider().create_call(
        to=f"client:{agent_identity(call.agent.user_id)}",
        from_=call.from_number,
        url=hook_url("voice-outbound-connect", call.pk),
        status_callback=hook_url("voice-status"),
        timeout=CUSTOMER_RING_SECONDS,
    )
    updated = Call.objects.filter(pk=call.pk, sid=call.sid).update(sid=call_sid)
    if updated:
        OutboundCall.objects.filter(call_id=call.pk).update(placed_at=timezone.now())
    else:
        logger.warning("outbound call %s was placed twice (%s)", call.pk, call_sid)
    return call_sid


def outbound_connect(*, call_sid: str, call_id: int) -> str:
    """The agent answered their leg: dial the customer with the tenant's caller ID."""
    call = call_for_sid(call_sid, call_id=call_id)
    decision = recording_policy_for(call)
    return twiml.dial_customer(
        number=call.to_number,
        caller_id=call.from_number,
        action_url=hook_url("voice-outbound-dial", call.pk),
        leg_status_url=hook_url("voice-outbound-leg", call.pk),
        timeout=CUSTOMER_RING_SECONDS,
        recording_status_url=recording_status_url(call) if decision.record else "",
        whisper_url=hook_url("voice-outbound-notice", call.pk) if decision.announce else "",
    )


def outbound_notice(*, call_id: int) -> str:
    """What the customer hears on answering a recorded outbound call, before being connected:
    the recording notice in the tenant's language. The request's CallSid is the customer's
    leg (unknown to us); the signed URL names the call."""
    call = Call.objects.select_related("tenant").filter(pk=call_id).first()
    if call is None:
        raise WebhookError(f"unknown call {call_id}", status=404)
    speech = speech_for(call.tenant)
    return twiml.say(speech, speech.text("recording_notice"))


OUTCOME_OF_DIAL = {
    "completed": CallOutcome.ANSWERED,
    "answered": CallOutcome.ANSWERED,
    "no-answer": CallOutcome.NO_ANSWER,
    "busy": CallOutcome.NO_ANSWER,
    "failed": CallOutcome.FAILED,
    "canceled": CallOutcome.NO_ANSWER,
}


def outbound_dial_result(
    *, call_sid: str, call_id: int, dial_status: str, dial_duration: int | None, payload: dict
) -> str:
    """The customer Dial's action: record the outcome (and talk time), then hang up."""
    call = call_for_sid(call_sid, call_id=call_id)
    with transaction.atomic():
        if event_record(
            key=f"outbound-dial:{call_sid}",
            kind="dial",
            call=call,
            call_sid=call_sid,
            payload=payload,
        ):
            locked = Call.objects.select_for_update().get(pk=call.pk)
            outcome = OUTCOME_OF_DIAL.get(dial_status, CallOutcome.FAILED)
            locked.outcome = outcome
            if outcome == CallOutcome.ANSWERED:
                if locked.answered_at is None:
                    locked.answered_at = timezone.now()
                if dial_duration is not None:
                    locked.talk_seconds = dial_duration
            timings_update(locked)
            locked.save()
            if locked.is_over:
                # The end came first (webhooks reorder): settle a callback's attempt now.
                from telephony.services.callbacks import callback_attempt_ended

                callback_attempt_ended(call_id=locked.pk)
    return twiml.hangup()


def outbound_leg_status(
    *,
    call_id: int,
    leg_sid: str,
    parent_sid: str,
    status: str,
    sequence: int | None,
    at: datetime | None,
    payload: dict,
) -> None:
    """The customer leg's status callback: `in-progress` is the moment the customer answered."""
    call = call_for_sid(parent_sid, call_id=call_id)
    key = f"outbound-leg:{leg_sid}:{sequence if sequence is not None else status}"
    with transaction.atomic():
        if not event_record(
            key=key, kind="outbound_leg", call=call, call_sid=leg_sid, payload=payload
        ):
            return
        if status not in ("in-progress", "answered"):
            return
        locked = Call.objects.select_for_update().get(pk=call.pk)
        locked.answered_at = at or locked.answered_at or timezone.now()
        if locked.outcome in ("", CallOutcome.NO_ANSWER):
            locked.outcome = CallOutcome.ANSWERED
        timings_update(locked)
        locked.save()
        if locked.is_over:
            from telephony.services.callbacks import callback_attempt_ended

            callback_attempt_ended(call_id=locked.pk)
