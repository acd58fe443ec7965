"""Media tasks: fetching provider media (MMS/WhatsApp, Meta attachments, fax PDFs)."""

from __future__ import annotations

from celery import shared_task

from channels_inbox.services import media

__all__ = ["attachment_fetch"]

MAX_RETRIES = 5


@shared_task(name="channels_inbox.tasks.attachment_fetch", bind=True, max_retries=MAX_RETRIES)
def attachment_fetch(self, attachment_id: int) -> None:
    """Fetch one attachment's media; safe to run twice. Transient failures retry with backoff;
    the last attempt notes the failure on the message instead of raising."""
    final = self.request.retries >= MAX_RETRIES
    try:
        media.attachment_fetch(attachment_id=attachment_id, final_attempt=final)
    except media.MediaFetchError as exc:
        raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc
