"""Mail tasks: IMAP polling and sending queued messages.

Thin wrappers around `channels_inbox.imap.mailbox_poll` and
`channels_inbox.services.replies.message_send`; both are safe to run twice.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from channels_inbox.models import Channel, InboxKind

__all__ = ["message_send", "poll_mailbox", "poll_mailboxes"]

logger = logging.getLogger(__name__)

# A poll holds its channel's lock at most this long (a killed worker's lock then expires).
POLL_LOCK_SECONDS = 15 * 60
# Transient send failures: retried after 30 s, 1, 2, 4, 8, 16 min (~31 min in all), then failed.
SEND_MAX_RETRIES = 6
SEND_RETRY_BASE_SECONDS = 30


@shared_task(name="channels_inbox.tasks.poll_mailboxes", ignore_result=True)
def poll_mailboxes() -> int:
    """Beat: queue one `poll_mailbox` per active email channel with an IMAP server. Also fails
    messages a dead worker left in `sending` (cheap; rides on this beat entry)."""
    from channels_inbox.services.replies import messages_fail_stuck

    messages_fail_stuck()
    ids = list(
        Channel.objects.filter(is_active=True, kind=InboxKind.EMAIL)
        .exclude(imap_host="")
        .values_list("pk", flat=True)
    )
    for channel_id in ids:
        poll_mailbox.delay(channel_id)
    return len(ids)


@shared_task(name="channels_inbox.tasks.poll_mailbox", ignore_result=True)
def poll_mailbox(channel_id: int) -> dict | None:
    """Poll one channel's mailbox. Skipped while another poll of it runs; queues itself again
    when more mail waits than one batch takes."""
    from channels_inbox.imap import mailbox_poll

    channel = (
        Channel.objects.filter(pk=channel_id, is_active=True, kind=InboxKind.EMAIL)
        .exclude(imap_host="")
        .first()
    )
    if channel is None:
        return None
    lock = f"inbox:imap-poll-lock:{channel_id}"
    if not cache.add(lock, 1, POLL_LOCK_SECONDS):
        logger.info("channel %s: a poll is already running", channel_id)
        return None
    try:
        result = mailbox_poll(channel=channel)
    finally:
        cache.delete(lock)
    if result.more and not result.error:
        poll_mailbox.delay(channel_id)
    return {
        "created": result.created,
        "duplicates": result.duplicates,
        "failed": result.failed,
        "skipped": result.skipped,
        "oversize": result.oversize,
        "error": result.error,
    }


@shared_task(
    bind=True,
    name="channels_inbox.tasks.message_send",
    ignore_result=True,
    max_retries=SEND_MAX_RETRIES,
    acks_late=True,
)
def message_send(self, message_id: int) -> None:
    """Send one queued message. Running twice sends once (the service claims the message);
    transient provider errors retry with exponential backoff, the last one fails the message."""
    from channels_inbox.models import Message
    from channels_inbox.services.replies import SendLater
    from channels_inbox.services.replies import message_send as send

    final = self.request.retries >= self.max_retries
    try:
        send(message_id=message_id, final_attempt=final)
    except Message.DoesNotExist:
        logger.warning("message %s to send no longer exists", message_id)
    except SendLater as exc:
        countdown = SEND_RETRY_BASE_SECONDS * (2**self.request.retries)
        raise self.retry(exc=exc, countdown=countdown) from exc
