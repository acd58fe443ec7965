"""Twilio webhooks of callbacks and outbound calls (same gate as `telephony.webhooks`)."""

from __future__ import annotations

from django.http import HttpRequest

from telephony.services.callbacks import callback_gather
from telephony.services.outbound import (
    outbound_connect,
    outbound_dial_result,
    outbound_leg_status,
    outbound_notice,
)
from telephony.webhooks import (
    _call_sid,
    _optional_int,
    _params,
    _required,
    _timestamp,
    twilio_webhook,
)


@twilio_webhook
def queue_callback(request: HttpRequest, call_id: int) -> str:
    """The key a waiting caller pressed during the queue announcements (1: call me back)."""
    return callback_gather(
        call_sid=_call_sid(request),
        call_id=call_id,
        digits=request.POST.get("Digits", "").strip(),
    )


@twilio_webhook
def connect(request: HttpRequest, call_id: int) -> str:
    """The agent answered the outbound call's browser leg: dial the customer."""
    return outbound_connect(call_sid=_call_sid(request), call_id=call_id)


@twilio_webhook
def dial(request: HttpRequest, call_id: int) -> str:
    return outbound_dial_result(
        call_sid=_call_sid(request),
        call_id=call_id,
        dial_status=_required(request, "DialCallStatus"),
        dial_duration=_optional_int(request, "DialCallDuration"),
        payload=_params(request),
    )


@twilio_webhook
def customer_leg(request: HttpRequest, call_id: int) -> None:
    outbound_leg_status(
        call_id=call_id,
        leg_sid=_call_sid(request),
        parent_sid=_call_sid(request, "ParentCallSid"),
        status=_required(request, "CallStatus"),
        sequence=_optional_int(request, "SequenceNumber"),
        at=_timestamp(request),
        payload=_params(request),
    )


@twilio_webhook
def notice(request: HttpRequest, call_id: int) -> str:
    """Whispered to the customer before connecting a recorded outbound call."""
    _call_sid(request)  # present and well-formed, like every call request
    return outbound_notice(call_id=call_id)
