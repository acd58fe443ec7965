"""Provider media: attachments that arrived as a URL (MMS/WhatsApp, Meta, fax PDFs) fetched and
stored after the message itself was received.

Adapters call `media_fetch_schedule(message=...)` right after `message_receive` created a
message; each URL-only attachment is fetched by the `channels_inbox.tasks.attachment_fetch` task
after commit. Twilio media needs HTTP basic auth with the account sid and auth token; Meta's and
fax providers' URLs are pre-signed. URLs on the simulated media host are answered by the
simulated provider (no network). A fetch that cannot succeed (404, too large, forbidden type) is
noted on the message (`attachment_fetch_failed` flag and a line in `problems`); a transient one
raises `MediaFetchError(permanent=False)` for the task to retry.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.parse

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from channels_inbox.models import Attachment, InboxKind, Message
from channels_inbox.providers import simulated

logger = logging.getLogger("channels_inbox")

FETCH_FAILED_FLAG = "attachment_fetch_failed"
TWILIO_MEDIA_HOSTS = ("api.twilio.com",)
CHUNK = 64 * 1024


class MediaFetchError(Exception):
    """The media could not be fetched; `permanent` ones are not worth retrying."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def media_fetch_schedule(*, message: Message) -> list[int]:
    """Schedule fetching each of `message`'s attachments that has a source URL and no file yet,
    after the current transaction commits. Returns the attachment ids (one query)."""
    from channels_inbox.tasks_media import attachment_fetch

    ids = list(
        Attachment.objects.filter(message=message, file="")
        .exclude(source_url="")
        .values_list("pk", flat=True)
    )
    for attachment_id in ids:
        transaction.on_commit(
            lambda attachment_id=attachment_id: attachment_fetch.delay(attachment_id)
        )
    return ids


def _twilio_auth(url: str, channel_kind: str) -> tuple[str, str] | None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if channel_kind not in (InboxKind.SMS, InboxKind.WHATSAPP):
        return None
    if not host.endswith(TWILIO_MEDIA_HOSTS) or settings.TWILIO_SIMULATED:
        return None
    return settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN


def media_download(*, url: str, channel_kind: str) -> tuple[bytes, str]:
    """(content, content type) of `url`, at most INBOX_MEDIA_MAX_BYTES, within
    INBOX_MEDIA_FETCH_TIMEOUT seconds per read. Raises MediaFetchError."""
    limit = settings.INBOX_MEDIA_MAX_BYTES
    if simulated.is_simulated_media(url):
        found = simulated.media_get(url)
        if found is None:
            raise MediaFetchError("the provider answered 404 Not Found", permanent=True)
        if len(found[0]) > limit:
            raise MediaFetchError(f"larger than {limit} bytes", permanent=True)
        return found
    try:
        response = requests.get(
            url,
            auth=_twilio_auth(url, channel_kind),
            timeout=settings.INBOX_MEDIA_FETCH_TIMEOUT,
            stream=True,
        )
    except requests.RequestException as exc:
        raise MediaFetchError(
            f"download failed: {exc.__class__.__name__}", permanent=False
        ) from exc
    with response:
        if response.status_code in (401, 403, 404, 410):
            raise MediaFetchError(
                f"the provider answered {response.status_code} {response.reason}", permanent=True
            )
        if response.status_code >= 400:
            raise MediaFetchError(
                f"the provider answered {response.status_code} {response.reason}",
                permanent=False,
            )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise MediaFetchError(f"larger than {limit} bytes", permanent=True)
        content = bytearray()
        try:
            for chunk in response.iter_content(CHUNK):
                content += chunk
                if len(content) > limit:
                    raise MediaFetchError(f"larger than {limit} bytes", permanent=True)
        except requests.RequestException as exc:
            raise MediaFetchError(
                f"download failed: {exc.__class__.__name__}", permanent=False
            ) from exc
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    return bytes(content), content_type


def _note_failure(attachment: Attachment, reason: str) -> None:
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=attachment.message_id)
        note = f"Attachment {attachment.filename} could not be fetched: {reason}"
        if note not in message.problems:
            message.problems = [*message.problems, note]
        if FETCH_FAILED_FLAG not in message.flags:
            message.flags = [*message.flags, FETCH_FAILED_FLAG]
        message.save(update_fields=["problems", "flags"])
    logger.warning("attachment %s not fetched: %s", attachment.pk, reason)


def _forbidden(filename: str) -> bool:
    extension = os.path.splitext(filename)[1].lower()
    return extension in {ext.lower() for ext in settings.INBOX_FORBIDDEN_EXTENSIONS}


def attachment_fetch(*, attachment_id: int, final_attempt: bool = False) -> Attachment | None:
    """Download an attachment's `source_url` and store the file. Idempotent: an attachment that
    already has its file is left alone (so is a missing one: None). A permanent failure, or a
    transient one on the `final_attempt`, is noted on the message; other transient failures
    raise MediaFetchError for a retry. The download happens outside any transaction; the row is
    locked only to store the result, so two workers never store it twice."""
    attachment = (
        Attachment.objects.select_related("message__channel").filter(pk=attachment_id).first()
    )
    if attachment is None or attachment.file or not attachment.source_url:
        return attachment
    if _forbidden(attachment.filename):
        _note_failure(attachment, "its file type is not accepted")
        return attachment
    try:
        content, content_type = media_download(
            url=attachment.source_url, channel_kind=attachment.message.channel.kind
        )
    except MediaFetchError as exc:
        if exc.permanent or final_attempt:
            _note_failure(attachment, str(exc))
            return attachment
        raise
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().get(pk=attachment_id)
        if locked.file:
            return locked
        locked.file.save(
            os.path.basename(locked.filename) or "media", ContentFile(content), save=False
        )
        locked.size = len(content)
        locked.sha256 = hashlib.sha256(content).hexdigest()
        if content_type and locked.content_type in ("", "application/octet-stream"):
            locked.content_type = content_type[:100]
        locked.save(update_fields=["file", "size", "sha256", "content_type"])
    return locked
