"""The whole loop on real servers: a customer writes (IMAP), an agent answers (SMTP), the
customer answers back (IMAP) — and the answer lands in the same conversation, however the
customer's mail program treated our headers."""

from __future__ import annotations

from email.utils import make_msgid

import pytest

from channels_inbox import imap
from channels_inbox.models import Conversation, Message, MessageDirection, MessageStatus
from channels_inbox.services import replies
from crm.tenancy import principal_for_user
from tests.channels_inbox import mailservers
from tests.channels_inbox.mailservers import mime

pytestmark = pytest.mark.django_db

dovecot = mailservers.dovecot
imap_mailbox = mailservers.imap_mailbox
smtp_server = mailservers.smtp_server

CUSTOMER = "soren@example.dk"


@pytest.fixture
def mail_channel(email_channel, imap_mailbox, smtp_server, monkeypatch):
    from channels_inbox import tasks_mail

    monkeypatch.setattr(tasks_mail.message_send, "delay", lambda message_id: None)
    for fields in (imap_mailbox.channel_fields(), smtp_server.channel_fields()):
        for name, value in fields.items():
            setattr(email_channel, name, value)
    email_channel.save()
    return email_channel


@pytest.fixture
def answered(mail_channel, imap_mailbox, smtp_server, agent_user):
    """A customer's mail polled in, and the agent's reply as the customer's server got it."""
    imap_mailbox.append(
        mime(
            subject="Måleraflæsning", sender=f"Søren Ærø <{CUSTOMER}>", body="Min måler viser 4711."
        )
    )
    assert imap.mailbox_poll(channel=mail_channel).created == 1
    conversation = Conversation.objects.get(channel=mail_channel)
    reply = replies.message_reply(
        conversation=conversation, actor=principal_for_user(agent_user), text="Tak, registreret."
    )
    assert replies.message_send(message_id=reply.pk).status == MessageStatus.SENT
    (delivered,) = smtp_server.messages
    return conversation, reply, delivered.message


def customer_answer(ours, **overrides) -> bytes:
    fields = {
        "subject": f"SV: {ours['Subject']}",
        "sender": f"Søren Ærø <{CUSTOMER}>",
        "to": str(ours["Reply-To"]),
        "body": "Tak for hjælpen!",
        "message_id": make_msgid(domain="example.dk"),
        "extra_headers": {
            "In-Reply-To": ours["Message-ID"],
            "References": f"{ours['References']} {ours['Message-ID']}",
        },
    }
    fields.update(overrides)
    return mime(**fields)


def test_the_customers_answer_threads_by_its_headers(answered, mail_channel, imap_mailbox):
    conversation, reply, ours = answered
    assert ours["To"] == CUSTOMER
    assert ours["Subject"] == f"Re: Måleraflæsning [#{conversation.ticket.number}]"

    imap_mailbox.append(customer_answer(ours, subject="Noget helt andet"))
    assert imap.mailbox_poll(channel=mail_channel).created == 1

    assert Conversation.objects.filter(channel=mail_channel).count() == 1
    answer = Message.objects.get(direction=MessageDirection.INBOUND, text__contains="hjælpen")
    assert answer.conversation_id == conversation.pk
    assert answer.in_reply_to == reply.message_id


def test_the_answer_threads_by_the_reply_address_when_headers_are_lost(
    answered, mail_channel, imap_mailbox
):
    conversation, _reply, ours = answered

    # a mail program that keeps neither In-Reply-To/References nor the subject
    imap_mailbox.append(customer_answer(ours, subject="Hej igen", extra_headers={}))
    imap.mailbox_poll(channel=mail_channel)

    answer = Message.objects.get(direction=MessageDirection.INBOUND, subject="Hej igen")
    assert answer.conversation_id == conversation.pk


def test_the_answer_threads_by_the_ticket_number_as_a_last_resort(
    answered, mail_channel, imap_mailbox
):
    conversation, _reply, ours = answered

    # a new mail to the channel's own address, headers gone, but the subject kept
    imap_mailbox.append(
        customer_answer(ours, to=mail_channel.address, extra_headers={}, subject=ours["Subject"])
    )
    imap.mailbox_poll(channel=mail_channel)

    answer = Message.objects.filter(direction=MessageDirection.INBOUND).latest("id")
    assert answer.conversation_id == conversation.pk


def test_our_own_reply_seen_again_in_the_mailbox_is_not_a_new_message(
    answered, mail_channel, imap_mailbox, smtp_server
):
    # e.g. the reply was Bcc'd to the support mailbox, or a customer's server bounced it back
    _conversation, reply, _ours = answered
    imap_mailbox.append(smtp_server.messages[0].raw)

    result = imap.mailbox_poll(channel=mail_channel)

    assert result.created == 0
    assert Message.objects.filter(message_id=reply.message_id).count() == 1
