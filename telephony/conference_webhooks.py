"""The conference status callback (`/hooks/twilio/voice/calls/<id>/conference/`).

Twilio learns the URL from the `conferenceStatusCallback` of the participants we create (and,
with the bridge on, from the caller's `<Conference statusCallback>`); verified like every other
voice webhook (`telephony.webhooks.twilio_webhook`).
"""

from __future__ import annotations

import re

from django.http import HttpRequest

from telephony.services import conference_bridge
from telephony.services.conference import conference_event
from telephony.webhooks import (
    BadRequest,
    _call_sid,
    _optional_int,
    _params,
    _required,
    _timestamp,
    twilio_webhook,
)

CONFERENCE_SID = re.compile(r"^CF[0-9a-fA-F]{32}$")
PARTICIPANT_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
FLAGS = {"muted": "Muted", "hold": "Hold", "coaching": "Coaching"}


def _flag(request: HttpRequest, name: str) -> bool | None:
    value = request.POST.get(name, "").strip().lower()
    if not value:
        return None
    if value not in ("true", "false"):
        raise BadRequest(f"malformed {name}: not true or false")
    return value == "true"


@twilio_webhook
def conference(request: HttpRequest, call_id: int) -> None:
    conference_sid = _required(request, "ConferenceSid")
    if not CONFERENCE_SID.match(conference_sid):
        raise BadRequest("malformed ConferenceSid")
    sequence = _optional_int(request, "SequenceNumber")
    if sequence is None:
        raise BadRequest("missing parameter SequenceNumber")
    call_sid = request.POST.get("CallSid", "").strip() or None
    if call_sid is not None and not PARTICIPANT_SID.match(call_sid):
        raise BadRequest("malformed CallSid")
    flags = {
        key: value for key, name in FLAGS.items() if (value := _flag(request, name)) is not None
    }
    conference_event(
        call_id=call_id,
        conference_sid=conference_sid,
        friendly_name=_required(request, "FriendlyName"),
        event=_required(request, "StatusCallbackEvent"),
        sequence=sequence,
        at=_timestamp(request),
        call_sid=call_sid,
        label=(request.POST.get("ParticipantLabel") or request.POST.get("Label") or "").strip()[
            :100
        ],
        flags=flags,
        payload=_params(request),
    )


# --- ringing an agent through the conference (TELEPHONY_CONFERENCE_BRIDGE) --------------------


@twilio_webhook
def agent(request: HttpRequest, call_id: int, offer_id: int) -> str:
    """The agent's leg we placed was answered: its TwiML joins the conference."""
    return conference_bridge.conference_agent_answered(
        call_id=call_id, offer_id=offer_id, leg_sid=_call_sid(request)
    )


@twilio_webhook
def agent_leg(request: HttpRequest, call_id: int, offer_id: int) -> None:
    conference_bridge.conference_agent_leg_status(
        call_id=call_id,
        offer_id=offer_id,
        leg_sid=_call_sid(request),
        status=_required(request, "CallStatus"),
        sequence=_optional_int(request, "SequenceNumber"),
        at=_timestamp(request),
        payload=_params(request),
    )


@twilio_webhook
def caller(request: HttpRequest, call_id: int) -> str:
    return conference_bridge.conference_caller_twiml(call_sid=_call_sid(request), call_id=call_id)


@twilio_webhook
def done(request: HttpRequest, call_id: int) -> str:
    return conference_bridge.conference_caller_done(call_sid=_call_sid(request), call_id=call_id)
