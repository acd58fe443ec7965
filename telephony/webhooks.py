"""Twilio Voice webhooks: verify the signature, parse the form, hand to a service, answer TwiML.

`twilio_webhook` is the one gate: POST only, CSRF-exempt (Twilio has no CSRF token; the
signature proves the sender), `X-Twilio-Signature` checked with the SDK's RequestValidator and
TWILIO_WEBHOOK_AUTH_TOKEN over PUBLIC_BASE_URL + the request's path and query string (the URL
Twilio signed, whatever proxy sits in between). Unsigned or forged requests get 403 before
anything is read or written; missing or malformed parameters get 400 with the reason.
Parameters we do not know are ignored (Twilio adds new ones without notice).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from telephony import services
from telephony.services import WebhookError

logger = logging.getLogger("telephony")

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
TWIML_TYPE = "text/xml; charset=utf-8"


class BadRequest(Exception):
    pass


def public_url(request: HttpRequest) -> str:
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def signature_valid(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(settings.TWILIO_WEBHOOK_AUTH_TOKEN)
    return validator.validate(public_url(request), request.POST, signature)


def twilio_webhook(view: Callable[..., str | None]) -> Callable[..., HttpResponse]:
    """Wrap a view that returns TwiML (or None for "204 No Content")."""

    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not signature_valid(request):
            logger.warning("refused unsigned or forged Twilio request to %s", request.path)
            return HttpResponse("Invalid Twilio signature.", status=403, content_type="text/plain")
        try:
            answer = view(request, *args, **kwargs)
        except (BadRequest, WebhookError) as exc:
            status = getattr(exc, "status", 400)
            logger.warning("Twilio request to %s refused (%s): %s", request.path, status, exc)
            return HttpResponse(str(exc), status=status, content_type="text/plain")
        if answer is None:
            return HttpResponse(status=204)
        return HttpResponse(answer, content_type=TWIML_TYPE)

    return wrapped


# --- parameter parsing -----------------------------------------------------------------------


def _required(request: HttpRequest, name: str) -> str:
    value = request.POST.get(name, "").strip()
    if not value:
        raise BadRequest(f"missing parameter {name}")
    return value


def _call_sid(request: HttpRequest, name: str = "CallSid") -> str:
    value = _required(request, name)
    if not CALL_SID.match(value):
        raise BadRequest(f"malformed {name}")
    return value


def _optional_int(request: HttpRequest, name: str) -> int | None:
    value = request.POST.get(name, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"malformed {name}: not a whole number") from None
    if number < 0:
        raise BadRequest(f"malformed {name}: negative")
    return number


def _timestamp(request: HttpRequest) -> datetime | None:
    """Twilio's `Timestamp` (RFC 2822, e.g. "Sun, 22 Nov 2026 09:15:02 +0000")."""
    value = request.POST.get("Timestamp", "").strip()
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise BadRequest("malformed Timestamp") from None
    if parsed.tzinfo is None:
        raise BadRequest("malformed Timestamp: no time zone")
    return parsed


def _params(request: HttpRequest) -> dict[str, str]:
    return {key: request.POST.get(key) for key in request.POST}


# --- the webhooks ----------------------------------------------------------------------------


@twilio_webhook
def incoming(request: HttpRequest) -> str:
    """A call comes in (Twilio console: the number's "A call comes in" URL)."""
    return services.call_incoming(
        call_sid=_call_sid(request),
        from_number=_required(request, "From"),
        to_number=_required(request, "To"),
    )


@twilio_webhook
def status(request: HttpRequest) -> None:
    """Call status changes (Twilio console: "Call status changes")."""
    services.call_status_update(
        call_sid=_call_sid(request),
        status=_required(request, "CallStatus"),
        sequence=_optional_int(request, "SequenceNumber"),
        at=_timestamp(request),
        duration=_optional_int(request, "CallDuration"),
        payload=_params(request),
    )


@twilio_webhook
def gather(request: HttpRequest, menu_id: int, attempt: int) -> str:
    return services.call_gather(
        call_sid=_call_sid(request),
        menu_id=menu_id,
        attempt=attempt,
        digits=request.POST.get("Digits", "").strip(),
        speech_result=request.POST.get("SpeechResult", "").strip(),
    )


@twilio_webhook
def queue_wait(request: HttpRequest, call_id: int) -> str:
    return services.call_queue_wait(
        call_sid=_call_sid(request),
        call_id=call_id,
        provider_position=_optional_int(request, "QueuePosition"),
    )


@twilio_webhook
def queue_exit(request: HttpRequest, call_id: int) -> str:
    return services.call_queue_exit(
        call_sid=_call_sid(request),
        call_id=call_id,
        result=_required(request, "QueueResult"),
        payload=_params(request),
    )


@twilio_webhook
def ring(request: HttpRequest, call_id: int, offer_id: int) -> str:
    return services.call_ring(call_sid=_call_sid(request), call_id=call_id, offer_id=offer_id)


@twilio_webhook
def dial(request: HttpRequest, call_id: int, offer_id: int) -> str:
    return services.call_dial_result(
        call_sid=_call_sid(request),
        call_id=call_id,
        offer_id=offer_id,
        dial_status=_required(request, "DialCallStatus"),
        dial_duration=_optional_int(request, "DialCallDuration"),
        payload=_params(request),
    )


@twilio_webhook
def agent_leg(request: HttpRequest, call_id: int, offer_id: int) -> None:
    services.call_agent_leg_status(
        call_id=call_id,
        offer_id=offer_id,
        leg_sid=_call_sid(request),
        parent_sid=_call_sid(request, "ParentCallSid"),
        status=_required(request, "CallStatus"),
        sequence=_optional_int(request, "SequenceNumber"),
        at=_timestamp(request),
        payload=_params(request),
    )


@twilio_webhook
def voicemail(request: HttpRequest, call_id: int) -> str:
    return services.voicemail_action(
        call_sid=_call_sid(request),
        call_id=call_id,
        recording_sid=request.POST.get("RecordingSid", "").strip(),
        recording_url=request.POST.get("RecordingUrl", "").strip(),
        params=_params(request),
    )


@twilio_webhook
def recording(request: HttpRequest, call_id: int) -> None:
    params = _params(request)
    recording_sid = _required(request, "RecordingSid")
    if request.GET.get("kind") == "voicemail":
        services.voicemail_receive(
            call_sid=_call_sid(request),
            call_id=call_id,
            recording_sid=recording_sid,
            recording_url=request.POST.get("RecordingUrl", "").strip(),
            params=params,
        )
    else:
        services.recording_update(
            call_sid=_call_sid(request), call_id=call_id, recording_sid=recording_sid, params=params
        )


@twilio_webhook
def transcription(request: HttpRequest, call_id: int) -> None:
    services.voicemail_receive(
        call_sid=_call_sid(request),
        call_id=call_id,
        recording_sid=_required(request, "RecordingSid"),
        recording_url=request.POST.get("RecordingUrl", "").strip(),
        params=_params(request),
    )
