"""Meta webhooks: Messenger (`object: page`) and Instagram (`object: instagram`) messaging.

One callback URL for the whole Meta app: {PUBLIC_BASE_URL}/hooks/meta/.

* GET — the subscription check: `hub.mode=subscribe` and `hub.verify_token` equal to
  META_VERIFY_TOKEN → the `hub.challenge` echoed as text; anything else → 403.
* POST — events, verified with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body
  keyed with META_WEBHOOK_APP_SECRET>`; unsigned or forged → 403, nothing read or stored;
  a body that is not a JSON object → 400.

Each `entry[].id` is a page id or Instagram account id = `Channel.address` of an active
Messenger/Instagram channel. Entries for an account we do not know are logged and skipped with
200 (a batch may carry several accounts, and Meta disables a callback that keeps failing).
Messages dedupe on `mid` (Meta does resend); a button tap (`postback`) arrives as a message with
the button's title; echoes of our own sends are skipped; `delivery`
and `read` events move our sent messages forward via `message_status_update`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import mimetypes
import os
import urllib.parse
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels_inbox.inbound import InboundAttachment, InboundMessage
from channels_inbox.models import Channel, InboxKind, MessageStatus
from channels_inbox.services.media import media_fetch_schedule
from channels_inbox.services.receive import message_receive
from channels_inbox.services.replies import message_status_update

logger = logging.getLogger("channels_inbox")

OBJECT_KIND = {"page": InboxKind.MESSENGER, "instagram": InboxKind.INSTAGRAM}
MEDIA_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "file": "application/octet-stream",
}


def signature_valid(request: HttpRequest) -> bool:
    header = request.headers.get("X-Hub-Signature-256", "")
    if not header.startswith("sha256="):
        return False
    expected = hmac.new(
        settings.META_WEBHOOK_APP_SECRET.encode(), request.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain")


def _verify_subscription(request: HttpRequest) -> HttpResponse:
    token = request.GET.get("hub.verify_token", "")
    if (
        request.GET.get("hub.mode") == "subscribe"
        and settings.META_VERIFY_TOKEN
        and hmac.compare_digest(token, settings.META_VERIFY_TOKEN)
    ):
        return _text(request.GET.get("hub.challenge", ""), 200)
    logger.warning("refused Meta subscription check with a wrong verify token")
    return _text("Verify token mismatch.", 403)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def meta_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _verify_subscription(request)
    if not signature_valid(request):
        logger.warning("refused unsigned or forged Meta request")
        return _text("Invalid X-Hub-Signature-256.", 403)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _text("Body is not JSON.", 400)
    if not isinstance(payload, dict) or not isinstance(payload.get("entry", []), list):
        return _text("Body is not a Meta webhook event.", 400)
    kind = OBJECT_KIND.get(payload.get("object", ""))
    if kind is None:
        logger.info("ignored Meta webhook for object %r", payload.get("object"))
        return _text("ignored", 200)
    entries = [entry for entry in payload.get("entry", []) if isinstance(entry, dict)]
    channels = {
        channel.address: channel
        for channel in Channel.objects.select_related("tenant", "queue").filter(
            kind=kind, is_active=True, address__in=[str(entry.get("id", "")) for entry in entries]
        )
    }
    for entry in entries:
        channel = channels.get(str(entry.get("id", "")))
        if channel is None:
            logger.warning("Meta event for unknown %s account %s skipped", kind, entry.get("id"))
            continue
        for event in entry.get("messaging", []) or []:
            if isinstance(event, dict):
                _handle_event(channel, event)
    return _text("EVENT_RECEIVED", 200)


def _sent_at(event: dict) -> datetime | None:
    timestamp = event.get("timestamp")
    if isinstance(timestamp, int | float) and timestamp > 0:
        return datetime.fromtimestamp(timestamp / 1000, tz=UTC)
    return None


def _attachments(message: dict, mid: str) -> tuple[list[InboundAttachment], list[str]]:
    """URL attachments, and the text of those that are not files (links, locations)."""
    files: list[InboundAttachment] = []
    notes: list[str] = []
    for index, item in enumerate(message.get("attachments", []) or []):
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "")
        payload = item.get("payload") or {}
        url = payload.get("url", "") if isinstance(payload, dict) else ""
        if kind in MEDIA_TYPES and isinstance(url, str) and url.startswith("https://"):
            name = os.path.basename(urllib.parse.urlsplit(url).path) or f"{kind}-{index}"
            content_type = mimetypes.guess_type(name)[0] or MEDIA_TYPES[kind]
            files.append(InboundAttachment(filename=name[:200], content_type=content_type, url=url))
        elif url:
            notes.append(f"[{kind}] {url}")
        elif kind:
            notes.append(f"[{kind}]")
    return files, notes


def _receive(channel: Channel, event: dict, *, sender: str, mid: str, text: str, files, headers):
    inbound = InboundMessage(
        channel=channel,
        external_id=mid,
        from_address=sender,
        to=[channel.address],
        text=text,
        attachments=files,
        sent_at=_sent_at(event),
        thread_id=sender,
        kind=channel.kind,
        headers=headers,
    )
    with transaction.atomic():
        received = message_receive(inbound=inbound)
        if received.created:
            media_fetch_schedule(message=received.message)
        else:
            logger.info("ignored duplicate Meta message %s", mid)


def _handle_event(channel: Channel, event: dict) -> None:
    sender = str((event.get("sender") or {}).get("id", ""))
    if "message" in event and isinstance(event["message"], dict):
        message = event["message"]
        mid = str(message.get("mid", ""))
        if message.get("is_echo") or not mid or not sender:
            return  # our own sends come back as echoes; they are already stored
        files, notes = _attachments(message, mid)
        text = "\n".join(part for part in [message.get("text", ""), *notes] if part)
        headers = {}
        if isinstance(message.get("reply_to"), dict) and message["reply_to"].get("mid"):
            headers["reply_to_mid"] = str(message["reply_to"]["mid"])
        if isinstance(message.get("quick_reply"), dict):
            headers["quick_reply_payload"] = str(message["quick_reply"].get("payload", ""))
        _receive(channel, event, sender=sender, mid=mid, text=text, files=files, headers=headers)
        return
    postback = event.get("postback")
    if isinstance(postback, dict) and postback.get("mid") and sender:
        # A tap on one of our buttons: the customer "said" the button's title.
        _receive(
            channel,
            event,
            sender=sender,
            mid=str(postback["mid"]),
            text=str(postback.get("title", "")),
            files=[],
            headers={"postback_payload": str(postback.get("payload", ""))},
        )
        return
    # Delivery receipts name our messages; Instagram's read receipts name one by mid.
    delivery = event.get("delivery")
    if isinstance(delivery, dict):
        for mid in delivery.get("mids", []) or []:
            message_status_update(
                channel=channel, external_id=str(mid), status=MessageStatus.DELIVERED
            )
        return
    read = event.get("read")
    if isinstance(read, dict) and read.get("mid"):
        message_status_update(
            channel=channel, external_id=str(read["mid"]), status=MessageStatus.READ
        )
