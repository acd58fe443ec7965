"""Twilio Messaging webhooks: inbound SMS/WhatsApp and status callbacks of our replies.

Configured on the Twilio number (or Messaging Service / WhatsApp sender) in Twilio's console:
"A message comes in" → POST {PUBLIC_BASE_URL}/hooks/twilio/messaging/; the status callback URL
is given with every message we send (providers/twilio_messaging.py) and may also be set on the
Messaging Service: {PUBLIC_BASE_URL}/hooks/twilio/messaging/status/.

Verification is Voice's: `X-Twilio-Signature` checked with TWILIO_WEBHOOK_AUTH_TOKEN over
PUBLIC_BASE_URL + path and query; unsigned or forged → 403 before anything is read or stored.
Malformed parameters → 400 with the reason. A `To` no active channel answers to → 404 with the
reason (it shows in Twilio's debugger as a misconfigured number; nothing is stored). A
MessageSid seen before → 200, ignored. Parameters we do not know are ignored.
"""

from __future__ import annotations

import functools
import logging
import mimetypes
import re
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from channels_inbox.inbound import InboundAttachment, InboundMessage
from channels_inbox.models import Channel, InboxKind, Message, MessageStatus
from channels_inbox.services.media import media_fetch_schedule
from channels_inbox.services.receive import message_receive
from channels_inbox.services.replies import message_status_update

logger = logging.getLogger("channels_inbox")

MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_MEDIA = 10  # Twilio delivers at most 10 media per message

# Twilio's MessageStatus → ours. `undelivered` is a failure the customer never saw.
STATUS_MAP = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENDING,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}

# What the commonest error codes mean, for the agent who sees the failed reply.
ERROR_REASONS = {
    "21211": "Invalid 'To' phone number.",
    "21610": "The recipient has opted out (replied STOP).",
    "30003": "Unreachable destination handset.",
    "30004": "Message blocked by the recipient or carrier.",
    "30005": "Unknown destination handset.",
    "30006": "Landline or unreachable carrier.",
    "30007": "Filtered by the carrier as spam.",
    "30008": "Unknown delivery error.",
    "63016": "Outside WhatsApp's 24-hour window: only an approved template may be sent.",
}


class BadRequest(Exception):
    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def public_url(request: HttpRequest) -> str:
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def signature_valid(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(settings.TWILIO_WEBHOOK_AUTH_TOKEN)
    return validator.validate(public_url(request), request.POST, signature)


def twilio_webhook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @csrf_exempt
    @require_POST
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not signature_valid(request):
            logger.warning("refused unsigned or forged Twilio request to %s", request.path)
            return HttpResponse("Invalid Twilio signature.", status=403, content_type="text/plain")
        try:
            return view(request, *args, **kwargs)
        except BadRequest as exc:
            logger.warning("Twilio request to %s refused (%s): %s", request.path, exc.status, exc)
            return HttpResponse(str(exc), status=exc.status, content_type="text/plain")

    return wrapped


def _required(request: HttpRequest, name: str) -> str:
    value = request.POST.get(name, "").strip()
    if not value:
        raise BadRequest(f"missing parameter {name}")
    return value


def _message_sid(request: HttpRequest) -> str:
    value = _required(request, "MessageSid")
    if not MESSAGE_SID.match(value):
        raise BadRequest("malformed MessageSid")
    return value


def channel_for_address(address: str) -> Channel | None:
    """The active SMS channel of an E.164 number, or WhatsApp channel of `whatsapp:+…`."""
    if not address:
        return None
    kind = InboxKind.WHATSAPP if address.startswith("whatsapp:") else InboxKind.SMS
    return (
        Channel.objects.select_related("tenant", "queue")
        .filter(kind=kind, address=address, is_active=True)
        .order_by("id")
        .first()
    )


def _media(request: HttpRequest, sid: str) -> list[InboundAttachment]:
    raw_count = request.POST.get("NumMedia", "0").strip() or "0"
    if not raw_count.isdigit() or int(raw_count) > MAX_MEDIA:
        raise BadRequest("malformed NumMedia")
    attachments = []
    for index in range(int(raw_count)):
        url = _required(request, f"MediaUrl{index}")
        if not url.startswith(("https://", "http://")):
            raise BadRequest(f"malformed MediaUrl{index}")
        content_type = request.POST.get(f"MediaContentType{index}", "").strip()
        content_type = content_type or "application/octet-stream"
        extension = mimetypes.guess_extension(content_type) or ""
        attachments.append(
            InboundAttachment(
                filename=f"{sid}-{index}{extension}", content_type=content_type, url=url
            )
        )
    return attachments


@twilio_webhook
def incoming(request: HttpRequest) -> HttpResponse:
    """An SMS, MMS or WhatsApp message to one of our numbers."""
    sid = _message_sid(request)
    sender = _required(request, "From")
    recipient = _required(request, "To")
    attachments = _media(request, sid)
    channel = channel_for_address(recipient)
    if channel is None:
        raise BadRequest(f"no active channel for To={recipient}", status=404)
    text = request.POST.get("Body", "")
    latitude = request.POST.get("Latitude", "").strip()
    longitude = request.POST.get("Longitude", "").strip()
    if latitude and longitude:  # a WhatsApp location pin
        label = request.POST.get("Label", "").strip() or request.POST.get("Address", "").strip()
        text = "\n".join(
            part for part in [text, f"[location] {latitude},{longitude} {label}".strip()] if part
        )
    flags, problems = [], []
    if request.POST.get("OptOutType", "").strip().upper() == "STOP":
        # Twilio's Advanced Opt-Out: replies are refused (21610) until the customer sends START.
        flags.append("opt_out")
        problems.append("The customer opted out (STOP): replies are refused until they send START.")
    inbound = InboundMessage(
        channel=channel,
        external_id=sid,
        from_address=sender,
        from_name=request.POST.get("ProfileName", "").strip(),
        to=[recipient],
        text=text,
        flags=flags,
        problems=problems,
        attachments=attachments,
        thread_id=sender,
        kind=channel.kind,
        headers={
            key: request.POST[key]
            for key in ("MessagingServiceSid", "NumSegments", "WaId", "AccountSid")
            if request.POST.get(key)
        },
    )
    with transaction.atomic():
        received = message_receive(inbound=inbound)
        if received.created:
            media_fetch_schedule(message=received.message)
        else:
            logger.info("ignored duplicate Twilio message %s", sid)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8")


@twilio_webhook
def status(request: HttpRequest) -> HttpResponse:
    """A status callback for a message we sent. Never moves a message backwards (the service
    compares STATUS_RANK); an unknown MessageSid or status is acknowledged and ignored."""
    sid = _message_sid(request)
    twilio_status = _required(request, "MessageStatus").lower()
    new_status = STATUS_MAP.get(twilio_status)
    if new_status is None:
        logger.info("ignored Twilio status %r for %s", twilio_status, sid)
        return HttpResponse(status=204)
    channel = channel_for_address(request.POST.get("From", "").strip())
    if channel is None:
        # A Messaging Service may send from a number we do not know as a channel: the
        # message we stored under this sid still names its channel.
        message = Message.objects.select_related("channel").filter(external_id=sid).first()
        channel = message.channel if message is not None else None
    if channel is None:
        logger.info("ignored Twilio status for unknown message %s", sid)
        return HttpResponse(status=204)
    error_code = request.POST.get("ErrorCode", "").strip()
    error_message = request.POST.get("ErrorMessage", "").strip() or ERROR_REASONS.get(
        error_code, ""
    )
    updated = message_status_update(
        channel=channel,
        external_id=sid,
        status=new_status,
        error_code=error_code,
        error_message=error_message,
    )
    if updated is None:
        logger.info("ignored Twilio status for unknown message %s", sid)
    return HttpResponse(status=204)
