"""IMAP polling against a real Dovecot: new mail is ingested once, whatever happens.

Mail is delivered with IMAP APPEND into a fresh user's mailbox, the channel points at that
mailbox, and `mailbox_poll` / the Celery tasks are called directly (no eager Celery).
"""

from __future__ import annotations

import pytest
from django.core import mail

from channels_inbox import imap, tasks_mail
from channels_inbox.email import ingest
from channels_inbox.models import MailboxState, Message, MessageDirection
from tests.channels_inbox import mailservers
from tests.channels_inbox.mailservers import free_port, mime

pytestmark = pytest.mark.django_db

# The real servers' fixtures (see mailservers.py).
dovecot = mailservers.dovecot
imap_mailbox = mailservers.imap_mailbox
smtp_server = mailservers.smtp_server


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs, no except clause sees it."""


@pytest.fixture
def mail_channel(email_channel, imap_mailbox, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    for name, value in imap_mailbox.channel_fields().items():
        setattr(email_channel, name, value)
    email_channel.save()
    return email_channel


def inbound_rows(channel):
    return Message.objects.filter(channel=channel, direction=MessageDirection.INBOUND)


def state_of(channel) -> MailboxState:
    return MailboxState.objects.get(channel=channel)


DANISH = "Blåbærgrød og smørrebrød på Ærø"
POLISH = "Zażółć gęślą jaźń: łódź, ćma, ńę"


def test_new_mail_is_stored_once_and_the_uid_recorded(mail_channel, imap_mailbox):
    # given messages in utf-8, iso-8859-1 (Danish), iso-8859-2 and windows-1250 (Polish)
    imap_mailbox.append(
        mime(subject="Regning", body="Hej, se vedhæftede."),
        mime(subject=DANISH, body=f"Tak! {DANISH}", charset="iso-8859-1"),
        mime(
            subject=POLISH,
            sender="klient@example.pl",
            body=f"Dzień dobry. {POLISH}",
            charset="iso-8859-2",
        ),
        mime(
            subject="Faktura: błąd",
            sender="biuro@example.pl",
            body=f"Outlook w Windows-1250. {POLISH}",
            charset="windows-1250",
        ),
    )

    # when the mailbox is polled
    result = imap.mailbox_poll(channel=mail_channel)

    # then each message is a row, with its national characters intact
    assert (result.created, result.duplicates, result.error) == (4, 0, "")
    rows = inbound_rows(mail_channel)
    assert rows.count() == 4
    danish = rows.get(subject=DANISH)
    assert DANISH in danish.text
    polish = rows.get(subject=POLISH)
    assert POLISH in polish.text
    assert polish.from_address == "klient@example.pl"
    assert POLISH in rows.get(subject="Faktura: błąd").text
    state = state_of(mail_channel)
    assert state.last_uid == 4
    assert state.uidvalidity
    assert state.last_polled_at is not None

    # when it is polled again with nothing new
    again = imap.mailbox_poll(channel=mail_channel)

    # then nothing is fetched or stored twice
    assert (again.fetched, again.created) == (0, 0)
    assert rows.count() == 4


def test_only_mail_after_the_last_uid_is_fetched(mail_channel, imap_mailbox):
    imap_mailbox.append(mime(subject="one"), mime(subject="two"))
    imap.mailbox_poll(channel=mail_channel)

    imap_mailbox.append(mime(subject="three"))
    result = imap.mailbox_poll(channel=mail_channel)

    assert (result.fetched, result.created) == (1, 1)
    assert sorted(inbound_rows(mail_channel).values_list("subject", flat=True)) == [
        "one",
        "three",
        "two",
    ]
    assert state_of(mail_channel).last_uid == 3


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    mail_channel, imap_mailbox, monkeypatch
):
    # given five new messages, and a worker that dies while storing the third
    imap_mailbox.append(*(mime(subject=f"message {n}") for n in range(1, 6)))
    real_ingest = ingest.email_ingest
    calls = []

    def dying_ingest(*, channel, raw):
        calls.append(raw)
        received = real_ingest(channel=channel, raw=raw)
        if len(calls) == 3:
            raise WorkerKilled  # after the row was written, before the transaction committed
        return received

    monkeypatch.setattr(ingest, "email_ingest", dying_ingest)
    with pytest.raises(WorkerKilled):
        imap.mailbox_poll(channel=mail_channel)

    # then exactly the two committed messages are there, and the bookkeeping says so
    assert sorted(inbound_rows(mail_channel).values_list("subject", flat=True)) == [
        "message 1",
        "message 2",
    ]
    assert state_of(mail_channel).last_uid == 2

    # when the next worker polls
    monkeypatch.setattr(ingest, "email_ingest", real_ingest)
    result = imap.mailbox_poll(channel=mail_channel)

    # then the rest arrives, once each
    assert (result.created, result.duplicates) == (3, 0)
    subjects = list(inbound_rows(mail_channel).values_list("subject", flat=True))
    assert sorted(subjects) == [f"message {n}" for n in range(1, 6)]
    assert state_of(mail_channel).last_uid == 5


def test_lost_bookkeeping_refetches_but_stores_nothing_twice(mail_channel, imap_mailbox):
    # given a polled mailbox whose recorded UID was lost (a restored database, say)
    imap_mailbox.append(mime(subject="a"), mime(subject="b"), mime(subject="c"))
    imap.mailbox_poll(channel=mail_channel)
    MailboxState.objects.filter(channel=mail_channel).update(last_uid=0)

    # when it is polled again
    result = imap.mailbox_poll(channel=mail_channel)

    # then every message is fetched again and recognised
    assert (result.fetched, result.created, result.duplicates) == (3, 0, 3)
    assert inbound_rows(mail_channel).count() == 3
    assert state_of(mail_channel).last_uid == 3


def test_a_uidvalidity_change_starts_over_without_duplicates(mail_channel, imap_mailbox):
    # given a polled folder
    imap_mailbox.folder = mail_channel.imap_folder = "Support"
    mail_channel.save()
    with imap_mailbox.client() as client:
        client.create_folder("Support")
    first, second = mime(subject="first"), mime(subject="second")
    imap_mailbox.append(first, second)
    imap.mailbox_poll(channel=mail_channel)
    old_validity = state_of(mail_channel).uidvalidity

    # when the folder is recreated (new UIDVALIDITY) with the old mail and one new message
    imap_mailbox.recreate_folder()
    imap_mailbox.append(first, second, mime(subject="third"))
    result = imap.mailbox_poll(channel=mail_channel)

    # then polling restarted from the beginning and only the new message was added
    assert result.restarted
    assert (result.created, result.duplicates) == (1, 2)
    assert inbound_rows(mail_channel).count() == 3
    state = state_of(mail_channel)
    assert state.uidvalidity != old_validity
    assert state.last_uid == 3


def test_a_message_that_raises_never_blocks_the_mailbox(
    mail_channel, imap_mailbox, monkeypatch, settings, tmp_path
):
    # given a message that makes the ingest raise, between two good ones
    settings.INBOX_IMAP_MAX_ATTEMPTS = 3
    imap_mailbox.append(mime(subject="before"), mime(subject="poison"), mime(subject="after"))
    real_ingest = ingest.email_ingest

    def picky_ingest(*, channel, raw):
        if b"poison" in raw:
            raise RuntimeError("boom")
        return real_ingest(channel=channel, raw=raw)

    monkeypatch.setattr(ingest, "email_ingest", picky_ingest)

    # when polled: the good ones are stored, the bad one waits for another try
    first = imap.mailbox_poll(channel=mail_channel)
    assert first.created == 2
    assert first.failed == [2]
    assert sorted(inbound_rows(mail_channel).values_list("subject", flat=True)) == [
        "after",
        "before",
    ]
    assert state_of(mail_channel).last_uid == 1

    # the second try fails too; the message after it is seen again but not stored again
    second = imap.mailbox_poll(channel=mail_channel)
    assert (second.created, second.duplicates, second.failed) == (0, 1, [2])
    assert state_of(mail_channel).last_uid == 1

    # the third failure gives up on it: kept as a raw file, noted, and polling moves on
    third = imap.mailbox_poll(channel=mail_channel)
    assert third.skipped == [2]
    state = state_of(mail_channel)
    assert state.last_uid == 3
    assert "UID 2 skipped after 3 failed attempts" in state.last_error
    saved = list((tmp_path / "inbox" / "imap-failed").rglob("*.eml"))
    assert len(saved) == 1
    assert b"poison" in saved[0].read_bytes()
    assert inbound_rows(mail_channel).count() == 2

    # and a later message is polled normally
    imap_mailbox.append(mime(subject="later"))
    assert imap.mailbox_poll(channel=mail_channel).created == 1
    assert state_of(mail_channel).last_uid == 4


def test_oversize_mail_is_refused_and_the_sender_told(mail_channel, imap_mailbox, smtp_server):
    # given a channel that accepts at most 4 KB, sending through a real SMTP server
    for name, value in smtp_server.channel_fields().items():
        setattr(mail_channel, name, value)
    mail_channel.max_message_bytes = 4096
    mail_channel.save()
    imap_mailbox.append(
        mime(subject="Store billeder", sender="kunde@example.dk", body="x" * 10_000),
        mime(subject="small"),
    )

    # when polled
    result = imap.mailbox_poll(channel=mail_channel)

    # then the big one is not stored, the small one is, and polling moved past both
    assert result.oversize == [1]
    assert list(inbound_rows(mail_channel).values_list("subject", flat=True)) == ["small"]
    state = state_of(mail_channel)
    assert state.last_uid == 2
    assert "UID 1 from kunde@example.dk refused" in state.last_error
    assert "the sender was told" in state.last_error
    # and the sender got one automatic notice saying why
    assert len(smtp_server.messages) == 1
    notice = smtp_server.messages[0]
    assert notice.rcpt_tos == ["kunde@example.dk"]
    assert notice.message["Auto-Submitted"] == "auto-replied"
    assert "Store billeder" in notice.message["Subject"]
    assert "kundeservice@nordlys.example" in notice.message.get_content()
    assert notice.message["From"] == "Kundeservice mail <kundeservice@nordlys.example>"


def test_oversize_automatic_mail_gets_no_notice(mail_channel, imap_mailbox):
    mail_channel.max_message_bytes = 4096
    mail_channel.save()
    imap_mailbox.append(
        mime(
            subject="Out of office",
            body="y" * 10_000,
            extra_headers={"Auto-Submitted": "auto-replied"},
        )
    )

    result = imap.mailbox_poll(channel=mail_channel)

    assert result.oversize == [1]
    assert mail.outbox == []
    assert state_of(mail_channel).last_uid == 1
    assert "the sender was told" not in state_of(mail_channel).last_error


def test_an_unreachable_server_is_recorded_not_raised(mail_channel):
    mail_channel.imap_port = free_port()  # nothing listens there
    mail_channel.save()

    result = imap.mailbox_poll(channel=mail_channel)

    assert "IMAP connection" in result.error
    state = state_of(mail_channel)
    assert "IMAP connection" in state.last_error
    assert state.last_uid == 0


def test_a_wrong_password_is_recorded(mail_channel):
    mail_channel.imap_password = "wrong"
    mail_channel.save()

    result = imap.mailbox_poll(channel=mail_channel)

    assert result.error
    assert state_of(mail_channel).last_error


def test_a_poll_that_reaches_the_server_clears_connection_trouble_only(mail_channel, imap_mailbox):
    MailboxState.objects.create(
        channel=mail_channel,
        last_error=(
            "2026-11-20 10:00:00Z IMAP connection to imap.example failed: timed out\n"
            "2026-11-19 09:00:00Z UID 7 from a@example.dk refused: 62,914,560 bytes, "
            "the limit is 26,214,400"
        ),
    )
    imap_mailbox.append(mime(subject="fine"))

    imap.mailbox_poll(channel=mail_channel)

    assert state_of(mail_channel).last_error == (
        "2026-11-19 09:00:00Z UID 7 from a@example.dk refused: 62,914,560 bytes, "
        "the limit is 26,214,400"
    )


def test_polling_in_batches_queues_the_rest(mail_channel, imap_mailbox, settings, monkeypatch):
    # given more new mail than one batch takes
    settings.INBOX_IMAP_BATCH_SIZE = 2
    imap_mailbox.append(*(mime(subject=f"n{n}") for n in range(5)))
    queued = []
    monkeypatch.setattr(tasks_mail.poll_mailbox, "delay", queued.append)

    # when the task polls once
    summary = tasks_mail.poll_mailbox(mail_channel.pk)

    # then one batch is stored and another poll of the same channel is queued
    assert summary["created"] == 2
    assert state_of(mail_channel).last_uid == 2
    assert queued == [mail_channel.pk]


def test_beat_fans_out_to_active_imap_channels_only(
    mail_channel, sms_channel, other_email_channel, monkeypatch
):
    # given an active IMAP channel, an SMS channel, and an email channel without IMAP
    queued = []
    monkeypatch.setattr(tasks_mail.poll_mailbox, "delay", queued.append)

    count = tasks_mail.poll_mailboxes()

    assert queued == [mail_channel.pk]
    assert count == 1

    # an inactive channel is not polled
    mail_channel.is_active = False
    mail_channel.save()
    queued.clear()
    tasks_mail.poll_mailboxes()
    assert queued == []


def test_a_poll_already_running_is_not_doubled(mail_channel, imap_mailbox):
    from django.core.cache import cache

    imap_mailbox.append(mime(subject="x"))
    lock = f"inbox:imap-poll-lock:{mail_channel.pk}"
    cache.add(lock, 1, 60)
    try:
        assert tasks_mail.poll_mailbox(mail_channel.pk) is None
        assert inbound_rows(mail_channel).count() == 0
    finally:
        cache.delete(lock)
    assert tasks_mail.poll_mailbox(mail_channel.pk)["created"] == 1


def test_an_idle_poll_costs_two_queries(mail_channel, imap_mailbox, django_assert_num_queries):
    imap_mailbox.append(mime(subject="x"))
    imap.mailbox_poll(channel=mail_channel)

    # beat polls every mailbox every minute: with nothing new, read the state, stamp the time
    with django_assert_num_queries(2):
        result = imap.mailbox_poll(channel=mail_channel)

    assert result.fetched == 0
