"""Inbound fax providers: POST {PUBLIC_BASE_URL}/hooks/fax/<channel token>/.

Provider-neutral: Telnyx-style JSON (`{"data": {"event_type": "fax.received", "payload":
{"fax_id", "from", "to", "page_count", "media_url"}}}`), a flat JSON object (`fax_id`/`id`,
`from`, `to`, `page_count`/`pages`, `media_url`) or SignalWire-style form parameters
(`FaxSid`, `From`, `To`, `NumPages`, `MediaUrl`, `FaxStatus`).

Verification: `X-Fax-Signature` = hex HMAC-SHA256 of the raw request body keyed with
FAX_WEBHOOK_SECRET (a `sha256=` prefix is accepted). Configure the provider, or a small relay in
front of it, to sign so; unsigned or forged → 403 before anything is read. An unknown token → 404.
Events other than a received fax (queued, sending, delivered...) → 200, ignored. A fax id seen
before → 200, ignored. The PDF is fetched and stored by the attachment_fetch task after commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels_inbox.inbound import InboundAttachment, InboundMessage
from channels_inbox.models import Channel, InboxKind
from channels_inbox.services.media import media_fetch_schedule
from channels_inbox.services.receive import message_receive

logger = logging.getLogger("channels_inbox")

RECEIVED_EVENTS = {"fax.received", "received"}
SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


class BadRequest(Exception):
    pass


def signature_valid(request: HttpRequest) -> bool:
    given = request.headers.get("X-Fax-Signature", "").removeprefix("sha256=")
    if not given:
        return False
    expected = hmac.new(
        settings.FAX_WEBHOOK_SECRET.encode(), request.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain")


def parse_fax(request: HttpRequest) -> dict | None:
    """{"id", "from", "to", "pages", "media_url"} of a received fax; None for other events.
    Raises BadRequest for a body that names none of them."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("body is not JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("body is not a JSON object")
        data = body.get("data")
        if isinstance(data, dict):  # Telnyx: an event envelope
            event = str(data.get("event_type", ""))
            fields = data.get("payload") if isinstance(data.get("payload"), dict) else {}
        else:
            event = str(body.get("event_type") or body.get("status") or "fax.received")
            fields = body
        if event not in RECEIVED_EVENTS:
            return None
        pages = fields.get("page_count", fields.get("pages", fields.get("num_pages")))
        fax = {
            "id": fields.get("fax_id") or fields.get("id"),
            "from": fields.get("from"),
            "to": fields.get("to"),
            "pages": pages,
            "media_url": fields.get("media_url"),
        }
    else:
        if request.POST.get("FaxStatus", "received") != "received":
            return None
        fax = {
            "id": request.POST.get("FaxSid"),
            "from": request.POST.get("From"),
            "to": request.POST.get("To"),
            "pages": request.POST.get("NumPages"),
            "media_url": request.POST.get("MediaUrl"),
        }
    for name in ("id", "from", "media_url"):
        if not isinstance(fax[name], str) or not fax[name].strip():
            raise BadRequest(f"missing {name}")
    if not fax["media_url"].startswith(("https://", "http://")):
        raise BadRequest("malformed media_url")
    try:
        fax["pages"] = int(fax["pages"]) if fax["pages"] not in (None, "") else None
    except (TypeError, ValueError):
        raise BadRequest("malformed page count") from None
    return fax


@csrf_exempt
@require_POST
def fax_webhook(request: HttpRequest, token: str) -> HttpResponse:
    if not signature_valid(request):
        logger.warning("refused unsigned or forged fax request")
        return _text("Invalid X-Fax-Signature.", 403)
    channel = (
        Channel.objects.select_related("tenant", "queue")
        .filter(token=token, kind=InboxKind.FAX, is_active=True)
        .first()
    )
    if channel is None:
        return _text("Unknown fax channel.", 404)
    try:
        fax = parse_fax(request)
    except BadRequest as exc:
        logger.warning("fax request refused: %s", exc)
        return _text(str(exc), 400)
    if fax is None:
        return _text("ignored", 200)
    sender = fax["from"].strip()
    with translation.override(channel.tenant.language or settings.LANGUAGE_CODE):
        if fax["pages"] is not None:
            subject = _("Fax from %(sender)s (%(pages)s pages)") % {
                "sender": sender,
                "pages": fax["pages"],
            }
        else:
            subject = _("Fax from %(sender)s") % {"sender": sender}
    fax_id = fax["id"].strip()
    inbound = InboundMessage(
        channel=channel,
        external_id=fax_id,
        from_address=sender,
        to=[str(fax["to"] or channel.address)],
        subject=subject,
        attachments=[
            InboundAttachment(
                filename=f"fax-{SAFE_ID.sub('_', fax_id)[:80]}.pdf",
                content_type="application/pdf",
                url=fax["media_url"].strip(),
            )
        ],
        headers={"pages": str(fax["pages"] or "")},
        thread_id=sender,
        kind=InboxKind.FAX,
    )
    with transaction.atomic():
        received = message_receive(inbound=inbound)
        if received.created:
            media_fetch_schedule(message=received.message)
        else:
            logger.info("ignored duplicate fax %s", fax_id)
    return _text("ok", 200)
