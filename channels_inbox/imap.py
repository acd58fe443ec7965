"""IMAP polling: fetch new mail of an email channel's mailbox and ingest it, losing nothing.

`mailbox_poll(channel=...)` is the whole service; the Celery tasks in `tasks_mail.py` only fan
it out over the active channels. How it stays correct:

* **Bookkeeping.** `MailboxState` keeps the folder's UIDVALIDITY and the highest UID handled.
  Each message is ingested and `last_uid` advanced *in one transaction*, message by message: a
  worker killed mid-batch has committed exactly the messages whose UID it recorded, and the
  next poll starts after the last of them. The UPDATE only ever raises `last_uid`, and only for
  the UIDVALIDITY it was read under, so an overlapping poll cannot move it back.
* **Idempotency.** `email_ingest` dedupes on the message's natural key (Message-ID, or a digest
  of the bytes), so anything fetched twice — after a UIDVALIDITY change, after a restore of the
  mailbox, after a failure below — is stored once.
* **UIDVALIDITY change** (the folder was recreated or the server migrated): start again from
  UID 1; dedupe catches every message already stored.
* **A message that raises** is not allowed to block the mailbox: later messages are still
  ingested in the same poll, while `last_uid` stays below the failing one so it is fetched again
  next time (the ones after it are re-fetched too and deduped). After
  `INBOX_IMAP_MAX_ATTEMPTS` failed polls its raw bytes are saved to storage
  (`inbox/imap-failed/...`), the failure is written to `MailboxState.last_error` and the log,
  and polling moves past it. (Malformed MIME does not raise: `email_ingest` stores it raw and
  flagged. What raises here is a bug or a broken row, which people must look at.)
* **Oversize mail** (`RFC822.SIZE` above the channel's `max_message_bytes`) is not downloaded.
  It is logged, noted in `MailboxState.last_error`, and the sender gets one notice by email
  (`Auto-Submitted: auto-replied`) saying the message was too large — unless the message was
  itself automatic, a bounce, or bulk mail.

The mailbox is opened read-only: polling never changes flags nor deletes mail, so the
mailbox stays usable from a mail client and a restore is harmless.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.utils import formataddr, parseaddr

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.db import InterfaceError, OperationalError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from channels_inbox.email import ingest
from channels_inbox.models import Channel, MailboxState
from channels_inbox.providers.smtp import SmtpSender

logger = logging.getLogger(__name__)

IMAP_TIMEOUT_SECONDS = 60
# Failures kept in the cache for a week: long enough to count polls, short enough to forget.
ATTEMPTS_TTL_SECONDS = 7 * 24 * 3600
# Senders and headers that mark mail we must never answer automatically (RFC 3834).
AUTOMATIC_LOCALPARTS = frozenset({"mailer-daemon", "postmaster", "noreply", "no-reply"})
# How connection trouble starts in last_error (cleared by the next poll that reaches the server).
CONNECTION_ERROR = "IMAP connection to"


def batch_size() -> int:
    return int(getattr(settings, "INBOX_IMAP_BATCH_SIZE", 100))


def max_attempts() -> int:
    return int(getattr(settings, "INBOX_IMAP_MAX_ATTEMPTS", 3))


@dataclass
class PollResult:
    """What one poll did. `more` says there were more new messages than one batch takes."""

    fetched: int = 0
    created: int = 0
    duplicates: int = 0
    oversize: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # will be tried again
    skipped: list[int] = field(default_factory=list)  # gave up after max_attempts
    more: bool = False
    error: str = ""
    restarted: bool = False  # UIDVALIDITY changed


def connect(channel: Channel) -> IMAPClient:
    client = IMAPClient(
        channel.imap_host,
        port=channel.imap_port,
        ssl=channel.imap_ssl,
        timeout=IMAP_TIMEOUT_SECONDS,
    )
    try:
        client.login(channel.imap_username, channel.imap_password)
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
    return client


def _attempts_key(channel: Channel, uidvalidity: int, uid: int) -> str:
    return f"inbox:imap-fail:{channel.pk}:{uidvalidity}:{uid}"


def _advance(state: MailboxState, uidvalidity: int, uid: int) -> None:
    """Raise last_uid to `uid` (never lower it; only under the UIDVALIDITY it was read for)."""
    MailboxState.objects.filter(pk=state.pk, uidvalidity=uidvalidity, last_uid__lt=uid).update(
        last_uid=uid
    )
    state.last_uid = max(state.last_uid, uid)


def _note_error(state: MailboxState, text: str) -> None:
    """Append to last_error (kept short: the log has the details)."""
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%SZ")
    combined = f"{stamp} {text}\n{state.last_error}".strip()[:4000]
    state.last_error = combined
    MailboxState.objects.filter(pk=state.pk).update(last_error=combined)


def _start(state: MailboxState, uidvalidity: int, result: PollResult) -> None:
    if state.uidvalidity == uidvalidity:
        return
    if state.uidvalidity is not None:
        logger.warning(
            "mailbox of channel %s: UIDVALIDITY %s → %s, polling again from the start",
            state.channel_id,
            state.uidvalidity,
            uidvalidity,
        )
        result.restarted = True
    state.uidvalidity = uidvalidity
    state.last_uid = 0
    MailboxState.objects.filter(pk=state.pk).update(uidvalidity=uidvalidity, last_uid=0)


def mailbox_poll(*, channel: Channel, limit: int | None = None) -> PollResult:
    """Fetch the channel's new mail (up to `limit`, default `INBOX_IMAP_BATCH_SIZE`) and ingest
    it. Never raises for the mailbox's sake: a connection or login failure is logged and kept in
    `MailboxState.last_error` for the admin. Runs in autocommit (one transaction per message);
    call it from a task, not inside a transaction. Do not run two at once for one channel
    (the task holds a lock); if that happens anyway nothing is lost or stored twice."""
    state, _ = MailboxState.objects.get_or_create(channel=channel)
    result = PollResult()
    limit = limit or batch_size()
    try:
        client = connect(channel)
    except (IMAPClientError, OSError) as exc:
        result.error = f"{CONNECTION_ERROR} {channel.imap_host}:{channel.imap_port} failed: {exc}"
        logger.warning("channel %s: %s", channel.pk, result.error)
        _finish(state, result)
        return result
    try:
        _poll(client, channel, state, result, limit)
    except (IMAPClientError, OSError) as exc:
        result.error = f"{CONNECTION_ERROR} {channel.imap_host} broke off: {exc}"
        logger.warning("channel %s: %s", channel.pk, result.error)
    finally:
        with contextlib.suppress(Exception):
            client.logout()
    _finish(state, result)
    return result


def _finish(state: MailboxState, result: PollResult) -> None:
    changes = {"last_polled_at": timezone.now()}
    if result.error:
        _note_error(state, result.error)
    elif state.last_error:
        # The server answered: connection trouble is over. What happened to single messages
        # (refused as oversize, skipped) stays on record for the admin.
        kept = [line for line in state.last_error.splitlines() if CONNECTION_ERROR not in line]
        changes["last_error"] = "\n".join(kept)
    MailboxState.objects.filter(pk=state.pk).update(**changes)


def _poll(
    client: IMAPClient, channel: Channel, state: MailboxState, result: PollResult, limit: int
) -> None:
    selected = client.select_folder(channel.imap_folder, readonly=True)
    uidvalidity = int(selected[b"UIDVALIDITY"])
    _start(state, uidvalidity, result)
    # "n:*" always matches the highest UID even when it is below n: filter.
    uids = sorted(
        uid for uid in client.search(["UID", f"{state.last_uid + 1}:*"]) if uid > state.last_uid
    )
    if not uids:
        return
    result.more = len(uids) > limit
    uids = uids[:limit]
    sizes = {
        uid: int(data.get(b"RFC822.SIZE", 0))
        for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items()
    }
    # While an earlier message is waiting for its retry, later ones are stored but last_uid
    # stays put, so the waiting one is fetched again next poll.
    blocked = False
    for uid in uids:
        done = _handle_one(
            client, channel, state, result, uidvalidity, uid, sizes.get(uid, 0), advance=not blocked
        )
        if done and not blocked:
            _advance(state, uidvalidity, uid)
        elif not done:
            blocked = True


def _handle_one(
    client: IMAPClient,
    channel: Channel,
    state: MailboxState,
    result: PollResult,
    uidvalidity: int,
    uid: int,
    size: int,
    *,
    advance: bool,
) -> bool:
    """Ingest one message; True when it is dealt with for good (stored, duplicate, refused as
    oversize, or given up on), False when it should be fetched again next poll. `advance`:
    record the UID with the message (False while an earlier message waits for its retry)."""
    if size > channel.max_message_bytes:
        _refuse_oversize(client, channel, state, result, uidvalidity, uid, size)
        return True
    fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
    raw = fetched.get(b"BODY[]")
    if raw is None:
        # Expunged between SEARCH and FETCH: nothing left to lose.
        logger.info("channel %s: UID %s vanished before it was fetched", channel.pk, uid)
        return True
    result.fetched += 1
    try:
        with transaction.atomic():
            received = ingest.email_ingest(channel=channel, raw=raw)
            # Same transaction as the message: both are there after a crash, or neither.
            if advance:
                _advance(state, uidvalidity, uid)
    except ingest.MessageTooLarge:
        _refuse_oversize(client, channel, state, result, uidvalidity, uid, len(raw), raw=raw)
        return True
    except (SoftTimeLimitExceeded, OperationalError, InterfaceError):
        raise  # not this message's fault: stop the poll, nothing after it is recorded
    except Exception as exc:
        return _failed(channel, state, result, uidvalidity, uid, raw, exc)
    if received.created:
        result.created += 1
    else:
        result.duplicates += 1
    cache.delete(_attempts_key(channel, uidvalidity, uid))
    return True


def _failed(
    channel: Channel,
    state: MailboxState,
    result: PollResult,
    uidvalidity: int,
    uid: int,
    raw: bytes,
    exc: Exception,
) -> bool:
    key = _attempts_key(channel, uidvalidity, uid)
    cache.add(key, 0, ATTEMPTS_TTL_SECONDS)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        attempts = 1
    logger.exception(
        "channel %s: ingesting IMAP UID %s failed (attempt %s of %s)",
        channel.pk,
        uid,
        attempts,
        max_attempts(),
        exc_info=exc,
    )
    if attempts < max_attempts():
        result.failed.append(uid)
        return False
    path = default_storage.save(
        f"inbox/imap-failed/{channel.tenant_id}/{channel.pk}/{uidvalidity}-{uid}.eml",
        ContentFile(raw),
    )
    _note_error(
        state,
        f"UID {uid} skipped after {attempts} failed attempts ({exc.__class__.__name__}: {exc}); "
        f"raw message saved as {path}",
    )
    result.skipped.append(uid)
    cache.delete(key)
    return True


def _is_automatic(headers) -> bool:
    auto = (headers.get("Auto-Submitted") or "no").strip().lower()
    precedence = (headers.get("Precedence") or "").strip().lower()
    return (
        auto != "no"
        or precedence in {"bulk", "junk", "list", "auto_reply"}
        or bool(headers.get("X-Autoreply") or headers.get("X-Autorespond"))
        or bool(headers.get("List-Id"))
        or "report" in (headers.get("Content-Type") or "").lower()
    )


def _refuse_oversize(
    client: IMAPClient,
    channel: Channel,
    state: MailboxState,
    result: PollResult,
    uidvalidity: int,
    uid: int,
    size: int,
    raw: bytes | None = None,
) -> None:
    result.oversize.append(uid)
    if raw is None:
        fetched = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
        raw = fetched.get(b"BODY[HEADER]") or b""
    headers = message_from_bytes(raw, policy=policy.compat32)
    sender = (
        parseaddr(headers.get("Return-Path") or "")[1] or parseaddr(headers.get("From") or "")[1]
    )
    subject = str(headers.get("Subject") or "")
    note = (
        f"UID {uid} from {sender or 'an unknown sender'} refused: {size:,} bytes, "
        f"the limit is {channel.max_message_bytes:,}"
    )
    logger.warning("channel %s: %s", channel.pk, note)
    notified = False
    automatic = _is_automatic(headers) or sender.partition("@")[0].lower() in AUTOMATIC_LOCALPARTS
    if (
        sender
        and not automatic
        and cache.add(
            f"inbox:imap-oversize:{channel.pk}:{uidvalidity}:{uid}", 1, ATTEMPTS_TTL_SECONDS
        )
    ):
        notified = _send_oversize_notice(channel, sender, subject, size)
    _note_error(state, note + ("; the sender was told" if notified else ""))


def _send_oversize_notice(channel: Channel, recipient: str, subject: str, size: int) -> bool:
    """Tell the sender their message was not received (a bounce-style notice, sent once), in
    the tenant's language."""
    with translation.override(channel.tenant.language or settings.LANGUAGE_CODE):
        body = _(
            "Your message “%(subject)s” to %(address)s was not delivered: it is %(size)s and "
            "we accept at most %(limit)s.\n\n"
            "Please send it again with smaller attachments, or send the attachments in "
            "several messages.\n\nThis is an automatic message."
        ) % {
            "subject": subject,
            "address": channel.address,
            "size": filesizeformat(size),
            "limit": filesizeformat(channel.max_message_bytes),
        }
        title = (
            _("Undelivered: %(subject)s") % {"subject": subject}
            if subject
            else _("Undelivered message")
        )
    sender = SmtpSender(channel)
    mail = EmailMessage(
        subject=title[:300],
        body=body,
        from_email=formataddr((channel.name, channel.address)),
        to=[recipient],
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
        connection=sender.connection(),
    )
    try:
        mail.send(fail_silently=False)
    except Exception:
        logger.exception("channel %s: the oversize notice to %s failed", channel.pk, recipient)
        return False
    return True
