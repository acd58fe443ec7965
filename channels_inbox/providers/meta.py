"""Sending Messenger and Instagram replies through Meta's Send API.

`sender(channel)` returns the real sender (POST {META_GRAPH_URL}/me/messages with the channel's
page access token, `meta_access_token`) unless META_SIMULATED, when the simulated one records the
request in Redis (`channels_inbox.providers.simulated.sent_log`) and answers with a fake `mid`.

Replies are `messaging_type: RESPONSE`, which Meta accepts within 24 hours of the customer's
last message; later ones are refused (a permanent SendError the agent sees). One synchronous
HTTPS request per send: call from Celery tasks only. Attachments need a public URL Meta can
fetch; they are not sent yet (their names are listed in the text instead).
"""

from __future__ import annotations

import secrets

import requests
from django.conf import settings

from channels_inbox.models import Channel
from channels_inbox.providers import simulated
from channels_inbox.providers.base import OutboundMessage, Sender, SendError, SendResult

REQUEST_TIMEOUT_SECONDS = (5, 30)  # connect, read
# Graph API error codes that a retry cannot fix: bad token/permission, outside the messaging
# window, the person cannot be reached. Rate limits (4, 17, 32, 613) and 1/2 (temporary) pass.
PERMANENT_CODES = {10, 100, 190, 200, 230, 551, 2018001, 2018108, 2018278, 2534022}
MAX_TEXT = 2000


def _text(outbound: OutboundMessage) -> str:
    names = [attachment.filename for attachment in outbound.attachments]
    text = "\n".join([outbound.text, *(f"[{name}]" for name in names)]).strip()
    if not text:
        raise SendError("The message is empty.", code="empty", permanent=True)
    if len(text) > MAX_TEXT:
        raise SendError(
            f"Messenger and Instagram messages are at most {MAX_TEXT} characters.",
            code="too_long",
            permanent=True,
        )
    if not outbound.to:
        raise SendError("The message has no recipient.", code="no_recipient", permanent=True)
    return text


class MetaSender:
    def __init__(self, channel: Channel, *, session: requests.Session | None = None) -> None:
        self.channel = channel
        self.session = session or requests.Session()

    def send(self, outbound: OutboundMessage) -> SendResult:
        text = _text(outbound)
        if not self.channel.meta_access_token:
            raise SendError(
                f"The channel “{self.channel.name}” has no page access token.",
                code="no_token",
                permanent=True,
            )
        try:
            response = self.session.post(
                f"{settings.META_GRAPH_URL}/me/messages",
                json={
                    "recipient": {"id": outbound.to[0]},
                    "messaging_type": "RESPONSE",
                    "message": {"text": text},
                },
                headers={"Authorization": f"Bearer {self.channel.meta_access_token}"},
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise SendError(
                f"Meta could not be reached: {exc.__class__.__name__}", code="network"
            ) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 400 or "error" in answer:
            error = answer.get("error") or {}
            code = error.get("code")
            subcode = error.get("error_subcode")
            permanent = code in PERMANENT_CODES or subcode in PERMANENT_CODES
            if response.status_code >= 500:
                permanent = False
            raise SendError(
                error.get("message") or f"Meta answered {response.status_code}",
                code=str(subcode or code or response.status_code),
                permanent=permanent,
            )
        mid = answer.get("message_id")
        if not mid:
            raise SendError("Meta's answer named no message id.", code="no_mid")
        return SendResult(external_id=mid, status="sent")


class SimulatedMetaSender:
    """Records the request for the simulated Meta; the message counts as sent."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def send(self, outbound: OutboundMessage) -> SendResult:
        text = _text(outbound)
        mid = "m_" + secrets.token_urlsafe(24)
        simulated.record_send(
            {
                "provider": "meta",
                "mid": mid,
                "kind": self.channel.kind,
                "account": self.channel.address,
                "recipient": outbound.to[0],
                "text": text,
                "message_id": outbound.message.pk,
            }
        )
        return SendResult(external_id=mid, status="sent")


def sender(channel: Channel) -> Sender:
    if settings.META_SIMULATED:
        return SimulatedMetaSender(channel)
    return MetaSender(channel)
