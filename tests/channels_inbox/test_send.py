"""Sending queued messages (the `message_send` task's body) and provider status callbacks."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry

from channels_inbox import tasks_mail
from channels_inbox.models import Message, MessageStatus
from channels_inbox.providers.base import SendError, SendResult
from channels_inbox.services import replies
from crm import events
from crm.tenancy import principal_for_user
from tests.channels_inbox import mailservers
from tests.channels_inbox.mailservers import conversation_with_inbound

pytestmark = pytest.mark.django_db

smtp_server = mailservers.smtp_server


@pytest.fixture
def published(monkeypatch):
    seen: list[events.DomainEvent] = []
    monkeypatch.setattr(events, "_subscribers", [seen.append])
    return seen


@pytest.fixture(autouse=True)
def scheduled(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr(tasks_mail.message_send, "delay", ids.append)
    return ids


@pytest.fixture
def agent(agent_user):
    return principal_for_user(agent_user)


@pytest.fixture
def smtp_channel(email_channel, smtp_server):
    for name, value in smtp_server.channel_fields().items():
        setattr(email_channel, name, value)
    email_channel.save()
    return email_channel


@pytest.fixture
def reply(smtp_channel, agent):
    conversation = conversation_with_inbound(smtp_channel, references=["<first@mail.example.dk>"])
    return replies.message_reply(conversation=conversation, actor=agent, text="Hej Søren")


def statuses(published, message):
    return [
        (e.payload["previous_status"], e.payload["status"])
        for e in published
        if e.name == "message.status_changed" and e.payload["message_id"] == message.pk
    ]


def test_a_queued_reply_is_sent_once_with_its_own_message_id(
    reply, smtp_server, published, django_capture_on_commit_callbacks
):
    # when the task runs, and runs again (a redelivered task)
    with django_capture_on_commit_callbacks(execute=True):
        sent = replies.message_send(message_id=reply.pk)
        again = replies.message_send(message_id=reply.pk)

    # then the customer's server got exactly one mail, carrying the stored Message-ID
    assert len(smtp_server.messages) == 1
    email = smtp_server.messages[0].message
    assert email["Message-ID"] == reply.message_id
    assert email["In-Reply-To"] == "<CAF1234.abc@mail.example.dk>"
    assert email["References"] == "<first@mail.example.dk> <CAF1234.abc@mail.example.dk>"
    assert email["Reply-To"] == reply.headers["Reply-To"]
    assert email["Subject"] == reply.subject
    # and the message moved queued → sending → sent, announced each time
    assert sent.status == again.status == MessageStatus.SENT
    reply.refresh_from_db()
    assert reply.status == MessageStatus.SENT
    assert reply.sent_at is not None
    assert reply.external_id == reply.message_id
    assert statuses(published, reply) == [("queued", "sending"), ("sending", "sent")]
    # and the ticket knows when the customer first got an answer
    ticket = reply.conversation.ticket
    ticket.refresh_from_db()
    assert ticket.first_response_at == reply.sent_at


def test_the_first_response_is_not_moved_by_later_replies(reply, agent, smtp_server):
    replies.message_send(message_id=reply.pk)
    ticket = reply.conversation.ticket
    ticket.refresh_from_db()
    first = ticket.first_response_at

    later = replies.message_reply(conversation=reply.conversation, actor=agent, text="PS")
    replies.message_send(message_id=later.pk)

    ticket.refresh_from_db()
    assert ticket.first_response_at == first
    assert len(smtp_server.messages) == 2


def test_a_permanent_refusal_fails_the_message_with_the_reason(
    reply, smtp_server, published, django_capture_on_commit_callbacks
):
    smtp_server.refuse_with = "550 5.1.1 <kunde@example.dk>: Recipient address rejected"

    with django_capture_on_commit_callbacks(execute=True):
        message = replies.message_send(message_id=reply.pk)

    assert message.status == MessageStatus.FAILED
    reply.refresh_from_db()
    assert reply.status == MessageStatus.FAILED
    assert reply.error_code == "550"
    assert "Recipient address rejected" in reply.error_message
    assert statuses(published, reply) == [("queued", "sending"), ("sending", "failed")]
    ticket = reply.conversation.ticket
    ticket.refresh_from_db()
    assert ticket.first_response_at is None


def test_a_transient_failure_queues_the_message_again_for_a_retry(reply, smtp_server):
    smtp_server.refuse_with = "451 4.7.1 Greylisted, try again later"

    with pytest.raises(replies.SendLater):
        replies.message_send(message_id=reply.pk)

    reply.refresh_from_db()
    assert reply.status == MessageStatus.QUEUED
    assert "Greylisted" in reply.error_message

    # the retry succeeds once the server accepts
    smtp_server.refuse_with = ""
    assert replies.message_send(message_id=reply.pk).status == MessageStatus.SENT
    assert len(smtp_server.messages) == 1


def test_the_last_transient_failure_fails_the_message(reply, smtp_server):
    smtp_server.refuse_with = "451 4.3.0 Mailbox busy"

    message = replies.message_send(message_id=reply.pk, final_attempt=True)

    assert message.status == MessageStatus.FAILED
    assert "Mailbox busy" in message.error_message


def test_the_task_retries_a_transient_failure_with_backoff(reply, smtp_server, monkeypatch):
    smtp_server.refuse_with = "421 4.3.2 Service not available"
    countdowns = []

    def fake_retry(*, exc, countdown):
        countdowns.append(countdown)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(tasks_mail.message_send, "retry", fake_retry)

    with pytest.raises(Retry):
        tasks_mail.message_send(reply.pk)

    assert countdowns == [tasks_mail.SEND_RETRY_BASE_SECONDS]
    reply.refresh_from_db()
    assert reply.status == MessageStatus.QUEUED


def test_a_message_being_sent_elsewhere_is_left_alone(reply, smtp_server):
    # given another worker has claimed the message
    Message.objects.filter(pk=reply.pk).update(status=MessageStatus.SENDING)

    message = replies.message_send(message_id=reply.pk)

    assert message.status == MessageStatus.SENDING
    assert smtp_server.messages == []


def test_a_task_for_a_deleted_message_does_nothing(reply):
    pk = reply.pk
    Message.objects.filter(pk=pk).delete()

    tasks_mail.message_send(pk)  # no exception, nothing to send


def test_a_webform_without_reply_channel_fails_with_a_reason(webform_channel, agent):
    conversation = conversation_with_inbound(webform_channel)
    reply = replies.message_reply(conversation=conversation, actor=agent, text="Hej")
    webform_channel.reply_channel = None
    webform_channel.save()

    message = replies.message_send(message_id=reply.pk)

    assert message.status == MessageStatus.FAILED
    assert message.error_code == "no_reply_channel"
    assert "answer this customer by letter or phone" in message.error_message


class FakeSms:
    """The provider edge: what Twilio would answer (its own simulated sender is tested by the
    messaging adapters)."""

    def __init__(self, result=None, error=None):
        self.result, self.error, self.sent = result, error, []

    def send(self, outbound):
        self.sent.append(outbound)
        if self.error:
            raise self.error
        return self.result


@pytest.fixture
def sms_reply(sms_channel, agent):
    conversation = conversation_with_inbound(
        sms_channel, customer="+4520304050", thread_key="+4520304050", message_id=""
    )
    return replies.message_reply(conversation=conversation, actor=agent, text="Tak for din sms")


def test_an_sms_reply_goes_through_its_provider_and_keeps_its_sid(
    sms_reply, sms_channel, monkeypatch, published, django_capture_on_commit_callbacks
):
    provider = FakeSms(result=SendResult(external_id="SM" + "a" * 32, status="queued"))
    monkeypatch.setattr(replies, "sender_for", lambda channel: provider)

    with django_capture_on_commit_callbacks(execute=True):
        message = replies.message_send(message_id=sms_reply.pk)

    assert [o.to for o in provider.sent] == [["+4520304050"]]
    assert provider.sent[0].text == "Tak for din sms"
    # accepted by Twilio but not yet sent: the status callback moves it on
    assert message.status == MessageStatus.SENDING
    assert message.external_id == "SM" + "a" * 32

    with django_capture_on_commit_callbacks(execute=True):
        for status in ("sent", "queued", "delivered", "sent"):
            replies.message_status_update(
                channel=sms_channel, external_id="SM" + "a" * 32, status=status
            )
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED  # never backwards
    assert statuses(published, message) == [
        ("queued", "sending"),
        ("sending", "sent"),
        ("sent", "delivered"),
    ]


def test_an_undelivered_callback_fails_the_message_with_the_providers_code(
    sms_reply, sms_channel, monkeypatch
):
    provider = FakeSms(result=SendResult(external_id="SM" + "b" * 32, status="sent"))
    monkeypatch.setattr(replies, "sender_for", lambda channel: provider)
    replies.message_send(message_id=sms_reply.pk)

    message = replies.message_status_update(
        channel=sms_channel,
        external_id="SM" + "b" * 32,
        status="undelivered",
        error_code="30006",
        error_message="Landline or unreachable carrier",
    )

    assert message.status == MessageStatus.FAILED
    assert (message.error_code, message.error_message) == (
        "30006",
        "Landline or unreachable carrier",
    )


def test_a_callback_for_an_unknown_or_foreign_message_is_ignored(
    sms_reply, sms_channel, whatsapp_channel, monkeypatch
):
    provider = FakeSms(result=SendResult(external_id="SM" + "c" * 32, status="sent"))
    monkeypatch.setattr(replies, "sender_for", lambda channel: provider)
    replies.message_send(message_id=sms_reply.pk)

    assert (
        replies.message_status_update(channel=sms_channel, external_id="SMnope", status="read")
        is None
    )
    # the right id on another channel does not touch it either
    assert (
        replies.message_status_update(
            channel=whatsapp_channel, external_id="SM" + "c" * 32, status="delivered"
        )
        is None
    )
    assert (
        replies.message_status_update(
            channel=sms_channel, external_id="SM" + "c" * 32, status="exploded"
        )
        is None
    )
    sms_reply.refresh_from_db()
    assert sms_reply.status == MessageStatus.SENT


def test_a_provider_that_refuses_for_good_fails_the_sms(sms_reply, monkeypatch):
    provider = FakeSms(error=SendError("Invalid 'To' number", code="21211", permanent=True))
    monkeypatch.setattr(replies, "sender_for", lambda channel: provider)

    message = replies.message_send(message_id=sms_reply.pk)

    assert message.status == MessageStatus.FAILED
    assert message.error_code == "21211"


def test_an_unexpected_provider_error_fails_visibly(sms_reply, monkeypatch):
    provider = FakeSms(error=KeyError("sid"))
    monkeypatch.setattr(replies, "sender_for", lambda channel: provider)

    message = replies.message_send(message_id=sms_reply.pk)

    assert message.status == MessageStatus.FAILED
    assert "Unexpected error" in message.error_message


def test_a_message_left_sending_by_a_dead_worker_fails_and_is_not_resent(reply, smtp_server, agent):
    from datetime import timedelta

    from django.utils import timezone

    # given a reply claimed 20 minutes ago by a worker that then died
    Message.objects.filter(pk=reply.pk).update(
        status=MessageStatus.SENDING, status_changed_at=timezone.now() - timedelta(minutes=20)
    )
    # and another one an SMS provider accepted long ago, waiting for its callback
    accepted = replies.message_reply(conversation=reply.conversation, actor=agent, text="PS")
    Message.objects.filter(pk=accepted.pk).update(
        status=MessageStatus.SENDING,
        sent_at=timezone.now() - timedelta(hours=1),
        status_changed_at=timezone.now() - timedelta(hours=1),
    )

    # when beat's poll runs
    tasks_mail.poll_mailboxes()

    # then the stuck one failed with a reason (not resent), the accepted one is untouched
    reply.refresh_from_db()
    assert reply.status == MessageStatus.FAILED
    assert reply.error_code == "interrupted"
    assert "may or may not have reached" in reply.error_message
    assert smtp_server.messages == []
    accepted.refresh_from_db()
    assert accepted.status == MessageStatus.SENDING
    # an agent can then send it again, deliberately
    replies.message_retry(message=reply, actor=agent)
    assert replies.message_send(message_id=reply.pk).status == MessageStatus.SENT


def test_a_recent_sending_message_is_not_touched(reply):
    Message.objects.filter(pk=reply.pk).update(status=MessageStatus.SENDING)

    assert replies.messages_fail_stuck() == 0

    reply.refresh_from_db()
    assert reply.status == MessageStatus.SENDING


def test_a_webform_reply_is_mailed_from_the_reply_channel(
    webform_channel, smtp_channel, smtp_server, agent
):
    # given a web form whose replies go through the email channel's SMTP server
    conversation = conversation_with_inbound(webform_channel, customer="besoeg@example.dk")
    reply = replies.message_reply(conversation=conversation, actor=agent, text="Tak for din besked")

    sent = replies.message_send(message_id=reply.pk)

    assert sent.status == MessageStatus.SENT
    (delivered,) = smtp_server.messages
    assert delivered.rcpt_tos == ["besoeg@example.dk"]
    email = delivered.message
    assert email["From"] == "Kundeservice mail <kundeservice@nordlys.example>"
    assert email["Reply-To"] == f"reply+{conversation.reply_token}@nordlys.example"
    assert "Tak for din besked" in email.get_content()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_message_send_it_once(smtp_channel, smtp_server, agent):
    import threading

    from django.db import connection

    conversation = conversation_with_inbound(smtp_channel)
    reply = replies.message_reply(conversation=conversation, actor=agent, text="Hej")
    start = threading.Barrier(4)
    outcomes = []

    def worker():
        try:
            start.wait()
            outcomes.append(replies.message_send(message_id=reply.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == 4
    assert len(smtp_server.messages) == 1
    reply.refresh_from_db()
    assert reply.status == MessageStatus.SENT
