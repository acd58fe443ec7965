"""Twilio webhooks of the in-call features (hold music, reconnecting an agent, transfers).

Twilio learns these URLs from the REST redirects `telephony.services.incall` sends; they are
verified like every other voice webhook (`telephony.webhooks.twilio_webhook`).
"""

from __future__ import annotations

from django.http import HttpRequest

from telephony.services import incall
from telephony.webhooks import (
    _call_sid,
    _optional_int,
    _params,
    _required,
    twilio_webhook,
)


@twilio_webhook
def hold(request: HttpRequest, call_id: int) -> str:
    return incall.call_hold_twiml(call_sid=_call_sid(request), call_id=call_id)


@twilio_webhook
def connect(request: HttpRequest, call_id: int, agent_id: int) -> str:
    return incall.call_connect(call_sid=_call_sid(request), call_id=call_id, agent_id=agent_id)


@twilio_webhook
def connect_dial(request: HttpRequest, call_id: int, agent_id: int) -> str:
    return incall.call_connect_result(
        call_sid=_call_sid(request),
        call_id=call_id,
        agent_id=agent_id,
        dial_status=_required(request, "DialCallStatus"),
        payload=_params(request),
    )


@twilio_webhook
def connect_leg(request: HttpRequest, call_id: int, agent_id: int) -> None:
    incall.call_connect_leg_status(
        call_id=call_id,
        agent_id=agent_id,
        leg_sid=_call_sid(request),
        parent_sid=_call_sid(request, "ParentCallSid"),
        status=_required(request, "CallStatus"),
        sequence=_optional_int(request, "SequenceNumber"),
        payload=_params(request),
    )


@twilio_webhook
def transfer_queue(request: HttpRequest, call_id: int, queue_id: int) -> str:
    return incall.call_transfer_enqueue(
        call_sid=_call_sid(request), call_id=call_id, queue_id=queue_id
    )
