"""Inbound email for providers that forward mail, or an MTA pipe: POST /hooks/email/<token>/.

The body is the raw message (`Content-Type: message/rfc822`; `application/octet-stream` and
`text/plain` are taken too, since pipes rarely set it). The channel token in the URL is the
shared secret: an unknown token answers 404, an inactive channel 403; nothing is stored then.
A body larger than the channel's `max_message_bytes` is refused with 413 and the reason in
words (the forwarding MTA bounces with it) before it is read to the end. A redelivery answers
200 (`created: false`), a new message 201. Malformed MIME is stored raw and flagged, 201.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from channels_inbox.email.ingest import MessageTooLarge, email_ingest
from channels_inbox.models import Channel, InboxKind

logger = logging.getLogger("channels_inbox")

CHUNK = 64 * 1024
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The request body, or None when it is longer than `limit` (read no further than that).
    Read from the stream rather than `request.body`, whose DATA_UPLOAD_MAX_MEMORY_SIZE is
    meant for forms, not for 25 MB mails."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = request.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@csrf_exempt
@require_POST
def email_hook(request: HttpRequest, token: str) -> JsonResponse:
    channel = (
        Channel.objects.select_related("tenant", "queue")
        .filter(token=token, kind=InboxKind.EMAIL)
        .first()
    )
    if channel is None:
        return _error(404, "Unknown email channel.")
    if not channel.is_active:
        return _error(403, "This email channel is switched off.")
    content_type = (request.content_type or "").lower()
    if content_type in FORM_TYPES:
        return _error(415, "Send the raw message as the body (Content-Type: message/rfc822).")
    limit = channel.max_message_bytes
    raw = _read_body(request, limit)
    if raw is None:
        logger.info("refused an oversized mail for channel %s", channel.pk)
        size = request.META.get("CONTENT_LENGTH") or f"more than {limit}"
        return _error(
            413,
            f"Message too large: {size} bytes; this address accepts at most {limit:,} bytes.",
        )
    if not raw.strip():
        return _error(400, "The body is empty: send the raw message (message/rfc822).")
    try:
        received = email_ingest(channel=channel, raw=raw)
    except MessageTooLarge as exc:
        return _error(413, f"Message too large: {exc}")
    return JsonResponse(
        {
            "created": received.created,
            "message_id": received.message.pk,
            "conversation_id": received.conversation.pk,
            "flags": received.message.flags,
        },
        status=201 if received.created else 200,
    )
