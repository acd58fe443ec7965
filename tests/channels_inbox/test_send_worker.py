"""Through a real Celery worker: a reply is sent after commit, exactly once, and beat's IMAP
poll stores new mail. Tasks travel through the configured Redis broker as in production."""

from __future__ import annotations

import time

import pytest

from channels_inbox import tasks_mail
from channels_inbox.models import Message, MessageDirection, MessageStatus
from channels_inbox.services import replies
from crm.tenancy import principal_for_user
from tests.channels_inbox import mailservers
from tests.channels_inbox.mailservers import conversation_with_inbound, mime
from tests.integration import conftest as integration

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

celery_worker = integration.celery_worker
smtp_server = mailservers.smtp_server
dovecot = mailservers.dovecot
imap_mailbox = mailservers.imap_mailbox


def wait_for(condition, *, timeout: float = 30.0):
    """Wait for the worker (a deadline against hanging, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return condition()


def test_a_reply_is_sent_by_the_worker_once(celery_worker, email_channel, smtp_server, agent_user):
    # given an email channel sending through a real SMTP server
    for name, value in smtp_server.channel_fields().items():
        setattr(email_channel, name, value)
    email_channel.save()
    conversation = conversation_with_inbound(email_channel)

    # when an agent replies (the task is queued when the reply commits)
    reply = replies.message_reply(
        conversation=conversation, actor=principal_for_user(agent_user), text="Hej Søren"
    )
    # and the same task is delivered a second time
    tasks_mail.message_send.delay(reply.pk)

    # then the worker sends it, once
    assert wait_for(lambda: Message.objects.filter(pk=reply.pk, status=MessageStatus.SENT).exists())
    time.sleep(1)  # give a wrongly repeated send the chance to show up
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0].message["Message-ID"] == reply.message_id


def test_beat_poll_stores_new_mail_through_the_worker(celery_worker, email_channel, imap_mailbox):
    for name, value in imap_mailbox.channel_fields().items():
        setattr(email_channel, name, value)
    email_channel.save()
    imap_mailbox.append(mime(subject="Hjælp med min måler"))

    tasks_mail.poll_mailboxes.delay()

    inbound = Message.objects.filter(channel=email_channel, direction=MessageDirection.INBOUND)
    assert wait_for(inbound.exists)
    assert list(inbound.values_list("subject", flat=True)) == ["Hjælp med min måler"]
