"""The SMTP sender against a real SMTP server (aiosmtpd): what the customer's server receives."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.base import ContentFile

from channels_inbox.models import Attachment, Message, MessageDirection, MessageStatus
from channels_inbox.providers import smtp
from channels_inbox.providers.base import OutboundMessage, SendError
from tests.channels_inbox import mailservers
from tests.channels_inbox.mailservers import conversation_with_inbound, free_port

pytestmark = [
    pytest.mark.django_db,
    # The login tests run AUTH without TLS on purpose (127.0.0.1); aiosmtpd warns about it.
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

smtp_server = mailservers.smtp_server


@pytest.fixture
def smtp_channel(email_channel, smtp_server):
    for name, value in smtp_server.channel_fields().items():
        setattr(email_channel, name, value)
    email_channel.save()
    return email_channel


def outbound(channel, *, tmp_path=None, settings=None, **fields) -> OutboundMessage:
    conversation = conversation_with_inbound(channel)
    message = Message.objects.create(
        tenant=channel.tenant,
        conversation=conversation,
        channel=channel,
        direction=MessageDirection.OUTBOUND,
        kind=channel.kind,
        status=MessageStatus.SENDING,
    )
    fields.setdefault("to", ["kunde@example.dk"])
    fields.setdefault("subject", "Re: Min regning er for høj [#7]")
    fields.setdefault("text", "Hej Søren, vi har rettet regningen. Mvh. Åse")
    fields.setdefault(
        "headers",
        {
            "Message-ID": "<20261122.abc@nordlys.example>",
            "In-Reply-To": "<CAF1234.abc@mail.example.dk>",
            "References": "<first@mail.example.dk> <CAF1234.abc@mail.example.dk>",
            "Reply-To": "reply+tok123@nordlys.example",
        },
    )
    return OutboundMessage(channel=channel, message=message, **fields)


def test_a_reply_reaches_the_server_with_its_threading_headers(smtp_channel, smtp_server):
    result = smtp.sender(smtp_channel).send(outbound(smtp_channel, cc=["chef@example.dk"]))

    assert result.external_id == "<20261122.abc@nordlys.example>"
    assert result.status == "sent"
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert sorted(received.rcpt_tos) == ["chef@example.dk", "kunde@example.dk"]
    assert received.mail_from == "kundeservice@nordlys.example"
    email = received.message
    assert email["Message-ID"] == "<20261122.abc@nordlys.example>"
    assert email["In-Reply-To"] == "<CAF1234.abc@mail.example.dk>"
    assert email["References"] == "<first@mail.example.dk> <CAF1234.abc@mail.example.dk>"
    assert email["Reply-To"] == "reply+tok123@nordlys.example"
    assert email["From"] == "Kundeservice mail <kundeservice@nordlys.example>"
    # the Danish subject and body survive the trip (RFC 2047 and a declared charset)
    assert email["Subject"] == "Re: Min regning er for høj [#7]"
    assert "Mvh. Åse" in email.get_content()


def test_html_and_attachments_are_sent(smtp_channel, smtp_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    message = outbound(smtp_channel, html="<p>Hej <b>Søren</b></p>")
    attachment = Attachment(
        tenant=smtp_channel.tenant,
        message=message.message,
        filename="faktura-rettet.pdf",
        content_type="application/pdf",
        size=9,
    )
    attachment.file.save("faktura-rettet.pdf", ContentFile(b"%PDF-1.4\n"), save=True)
    message.attachments = [attachment]

    smtp.sender(smtp_channel).send(message)

    email = smtp_server.messages[0].message
    assert email.get_body(preferencelist=("html",)).get_content().strip() == (
        "<p>Hej <b>Søren</b></p>"
    )
    parts = list(email.iter_attachments())
    assert [part.get_filename() for part in parts] == ["faktura-rettet.pdf"]
    assert parts[0].get_content() == b"%PDF-1.4\n"


def test_a_refused_recipient_is_a_permanent_failure(smtp_channel, smtp_server):
    smtp_server.refuse_with = "550 5.1.1 No such user here"

    with pytest.raises(SendError) as error:
        smtp.sender(smtp_channel).send(outbound(smtp_channel))

    assert error.value.permanent
    assert error.value.code == "550"
    assert "No such user" in str(error.value)
    assert smtp_server.messages == []


def test_a_busy_server_is_a_transient_failure(smtp_channel, smtp_server):
    smtp_server.refuse_with = "451 4.3.0 Try again later"

    with pytest.raises(SendError) as error:
        smtp.sender(smtp_channel).send(outbound(smtp_channel))

    assert not error.value.permanent
    assert error.value.code == "451"


def test_an_unreachable_server_is_a_transient_failure(smtp_channel):
    smtp_channel.smtp_port = free_port()  # nothing listens there
    smtp_channel.save()

    with pytest.raises(SendError) as error:
        smtp.sender(smtp_channel).send(outbound(smtp_channel))

    assert not error.value.permanent
    assert error.value.code == "connection"


def test_a_message_without_recipient_is_refused_before_connecting(smtp_channel, smtp_server):
    with pytest.raises(SendError) as error:
        smtp.sender(smtp_channel).send(outbound(smtp_channel, to=[]))

    assert error.value.permanent
    assert smtp_server.messages == []


def test_a_channel_without_smtp_server_uses_the_django_backend(email_channel):
    # given no SMTP host on the channel (tests run Django's locmem backend)
    result = smtp.sender(email_channel).send(outbound(email_channel))

    assert result.external_id == "<20261122.abc@nordlys.example>"
    assert len(mail.outbox) == 1
    sent = mail.outbox[0].message()
    assert sent["Message-ID"] == "<20261122.abc@nordlys.example>"
    assert sent["In-Reply-To"] == "<CAF1234.abc@mail.example.dk>"
    assert mail.outbox[0].reply_to == ["reply+tok123@nordlys.example"]


smtp_server_with_login = mailservers.smtp_server_with_login


def test_the_channels_smtp_login_is_used(email_channel, smtp_server_with_login):
    for name, value in smtp_server_with_login.channel_fields().items():
        setattr(email_channel, name, value)
    email_channel.save()

    smtp.sender(email_channel).send(outbound(email_channel))

    assert len(smtp_server_with_login.messages) == 1


def test_a_refused_login_is_a_permanent_failure(email_channel, smtp_server_with_login):
    for name, value in smtp_server_with_login.channel_fields().items():
        setattr(email_channel, name, value)
    email_channel.smtp_password = "forkert"
    email_channel.save()

    with pytest.raises(SendError) as error:
        smtp.sender(email_channel).send(outbound(email_channel))

    assert error.value.permanent
    assert error.value.code == "535"
    assert "login refused" in str(error.value)
    assert smtp_server_with_login.messages == []


def test_a_non_ascii_password_fails_with_a_reason(email_channel, smtp_server_with_login):
    for name, value in smtp_server_with_login.channel_fields().items():
        setattr(email_channel, name, value)
    email_channel.smtp_password = "hemmeligt-ø"
    email_channel.save()

    with pytest.raises(SendError) as error:
        smtp.sender(email_channel).send(outbound(email_channel))

    assert error.value.permanent
    assert "only ASCII" in str(error.value)
