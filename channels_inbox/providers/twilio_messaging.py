"""Sending SMS and WhatsApp through Twilio Messaging.

`sender(channel)` returns the real sender (twilio SDK, `client.messages.create`) when Twilio
credentials are configured, else the simulated one (TWILIO_SIMULATED), which records the
request in Redis (`channels_inbox.providers.simulated.sent_log`) and answers with a fake `SM…`
sid. Both ask for status callbacks at {PUBLIC_BASE_URL}/hooks/twilio/messaging/status/.

The channel's `address` is the sender: an E.164 number, or `whatsapp:+…` for WhatsApp (the
customer's address then carries the same prefix). One synchronous HTTPS request per send: call
from Celery tasks only. Outbound media needs a public URL Twilio can fetch; attachments are not
sent yet (their names are listed in the text instead).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from channels_inbox.models import Channel, InboxKind
from channels_inbox.providers import simulated
from channels_inbox.providers.base import OutboundMessage, Sender, SendError, SendResult

# Twilio's statuses at creation → ours (the first status gets no callback).
CREATED_STATUS = {"accepted": "queued", "scheduled": "queued", "queued": "queued", "sent": "sent"}
REQUEST_TIMEOUT_SECONDS = 30


def status_callback_url() -> str:
    return settings.PUBLIC_BASE_URL + reverse("channels_inbox:twilio-messaging-status")


def recipient(channel: Channel, address: str) -> str:
    """The customer's address as Twilio wants it: WhatsApp numbers carry `whatsapp:`."""
    if channel.kind == InboxKind.WHATSAPP and not address.startswith("whatsapp:"):
        return "whatsapp:" + address
    return address


def _body(outbound: OutboundMessage) -> str:
    names = [attachment.filename for attachment in outbound.attachments]
    if names:
        return "\n".join([outbound.text, *(f"[{name}]" for name in names)]).strip()
    return outbound.text


def _check(outbound: OutboundMessage) -> str:
    if not outbound.to:
        raise SendError("The message has no recipient.", code="no_recipient", permanent=True)
    if not outbound.channel.address:
        raise SendError(
            f"The channel “{outbound.channel.name}” has no number to send from.",
            code="no_sender",
            permanent=True,
        )
    body = _body(outbound)
    if not body:
        raise SendError("The message is empty.", code="empty", permanent=True)
    return body


class TwilioMessagingSender:
    def __init__(self, channel: Channel, *, http_client=None) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.channel = channel
        # `http_client` is the SDK's own seam for its transport; tests pass a recording one.
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=http_client or TwilioHttpClient(timeout=REQUEST_TIMEOUT_SECONDS),
        )

    def send(self, outbound: OutboundMessage) -> SendResult:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        body = _check(outbound)
        try:
            created = self.client.messages.create(
                from_=self.channel.address,
                to=recipient(self.channel, outbound.to[0]),
                body=body,
                status_callback=status_callback_url(),
            )
        except TwilioRestException as exc:
            # 4xx are refusals (bad number, opted out, unverified sender); 429 and 5xx pass.
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise SendError(
                exc.msg or str(exc), code=str(exc.code or exc.status), permanent=permanent
            ) from exc
        except (TwilioException, OSError) as exc:
            raise SendError(f"Twilio could not be reached: {exc}", code="network") from exc
        return SendResult(
            external_id=created.sid, status=CREATED_STATUS.get(created.status, "queued")
        )


class SimulatedTwilioMessagingSender:
    """Records the request for the simulated Twilio; the message counts as sent."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def send(self, outbound: OutboundMessage) -> SendResult:
        body = _check(outbound)
        to = recipient(self.channel, outbound.to[0])
        if to.removeprefix("whatsapp:").endswith("0000000"):
            # The simulated network's unreachable numbers, for demos of a failed reply.
            raise SendError("Unreachable destination handset.", code="30003", permanent=True)
        sid = simulated.new_sid("SM")
        simulated.record_send(
            {
                "provider": "twilio",
                "sid": sid,
                "from": self.channel.address,
                "to": to,
                "body": body,
                "status_callback": status_callback_url(),
                "message_id": outbound.message.pk,
            }
        )
        return SendResult(external_id=sid, status="sent")


def sender(channel: Channel) -> Sender:
    if settings.TWILIO_SIMULATED:
        return SimulatedTwilioMessagingSender(channel)
    return TwilioMessagingSender(channel)
