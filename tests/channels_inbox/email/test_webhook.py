"""POST /hooks/email/<token>/: the raw message in, through the real URL and view."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_inbox.models import Conversation, Message
from tests.channels_inbox.email.support import eml

RFC822 = "message/rfc822"


def hook(channel) -> str:
    return f"/hooks/email/{channel.token}/"


def test_new_mail_is_stored_and_answered_201(client, email_channel):
    response = client.post(hook(email_channel), eml("gmail_new"), content_type=RFC822)

    assert response.status_code == 201
    message = Message.objects.get()
    assert response.json() == {
        "created": True,
        "message_id": message.pk,
        "conversation_id": message.conversation_id,
        "flags": [],
    }
    assert message.subject == "Spørgsmål om måler på Ærvægen"
    assert message.attachments.count() == 2


def test_redelivery_is_answered_200_and_ignored(client, email_channel):
    client.post(hook(email_channel), eml("gmail_new"), content_type=RFC822)

    response = client.post(hook(email_channel), eml("gmail_new"), content_type=RFC822)

    assert response.status_code == 200
    assert response.json()["created"] is False
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "content_type", ["message/rfc822", "application/octet-stream", "text/plain"]
)
def test_pipes_that_label_the_body_differently_are_accepted(client, email_channel, content_type):
    response = client.post(hook(email_channel), eml("outlook_reply"), content_type=content_type)

    assert response.status_code == 201


def test_unknown_token_is_404_and_stores_nothing(client, email_channel):
    response = client.post("/hooks/email/not-a-token/", eml("gmail_new"), content_type=RFC822)

    assert response.status_code == 404
    assert not Message.objects.exists()


def test_token_of_a_non_email_channel_is_404(client, sms_channel):
    response = client.post(hook(sms_channel), eml("gmail_new"), content_type=RFC822)

    assert response.status_code == 404
    assert not Message.objects.exists()


def test_inactive_channel_is_403_and_stores_nothing(client, email_channel):
    email_channel.is_active = False
    email_channel.save()

    response = client.post(hook(email_channel), eml("gmail_new"), content_type=RFC822)

    assert response.status_code == 403
    assert "switched off" in response.json()["detail"]
    assert not Message.objects.exists()


def test_sixty_megabyte_mail_is_refused_with_the_reason(client, email_channel):
    head = eml("gmail_new")
    huge = head + b"A" * (60 * 1024 * 1024)

    response = client.post(hook(email_channel), huge, content_type=RFC822)

    assert response.status_code == 413
    detail = response.json()["detail"]
    assert "Message too large" in detail
    assert "26,214,400 bytes" in detail
    assert not Message.objects.exists()


def test_body_longer_than_its_declared_length_is_not_read_past_the_limit(rf, email_channel):
    from channels_inbox.webhooks.email import email_hook

    email_channel.max_message_bytes = 1000
    email_channel.save()
    request = rf.post(hook(email_channel), eml("gmail_new"), content_type=RFC822)
    del request.META["CONTENT_LENGTH"]  # a chunked upload: no declared length

    response = email_hook(request, token=email_channel.token)

    assert response.status_code == 413
    assert not Message.objects.exists()


def test_form_posts_are_refused_with_a_hint(client, email_channel):
    response = client.post(hook(email_channel), {"email": "x"})

    assert response.status_code == 415
    assert "message/rfc822" in response.json()["detail"]


def test_empty_body_is_400(client, email_channel):
    response = client.post(hook(email_channel), b"", content_type=RFC822)

    assert response.status_code == 400


def test_get_is_not_allowed(client, email_channel):
    assert client.get(hook(email_channel)).status_code == 405


def test_malformed_mime_is_stored_and_flagged(client, email_channel):
    response = client.post(hook(email_channel), eml("malformed"), content_type=RFC822)

    assert response.status_code == 201
    assert response.json()["flags"] == ["unparsed"]
    assert bytes(Message.objects.get().raw) == eml("malformed")


def test_each_tenants_token_stores_into_that_tenant(client, email_channel, other_email_channel):
    client.post(hook(other_email_channel), eml("charset_iso8859_2"), content_type=RFC822)

    message = Message.objects.get()
    assert message.tenant_id == other_email_channel.tenant_id
    assert message.conversation.contact.tenant_id == other_email_channel.tenant_id
    assert not Conversation.objects.filter(tenant_id=email_channel.tenant_id).exists()


def reply(number: int) -> bytes:
    return (
        f"From: Ida Kragh <ida.kragh@gmail.example>\nTo: kundeservice@nordlys.example\n"
        f"Subject: Re: Spørgsmål\nDate: Wed, 6 May 2026 10:00:00 +0200\n"
        f"Message-ID: <reply-{number}@mail.gmail.com>\n"
        f"In-Reply-To: <CAF3k9x+Yq2V7mL0pQ8rT1sN4wZ6bH5jD0cE9uA2fG7hK3iM1oP@mail.gmail.com>\n"
        f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nSvar {number}\n"
    ).encode()


def test_query_count_does_not_grow_with_the_conversation(client, email_channel):
    client.post(hook(email_channel), eml("gmail_new"), content_type=RFC822)
    for number in range(4):
        client.post(hook(email_channel), reply(number), content_type=RFC822)

    with CaptureQueriesContext(connection) as at_five:
        assert client.post(hook(email_channel), reply(100), content_type=RFC822).status_code == 201
    for number in range(4, 29):
        client.post(hook(email_channel), reply(number), content_type=RFC822)
    with CaptureQueriesContext(connection) as at_thirty:
        assert client.post(hook(email_channel), reply(101), content_type=RFC822).status_code == 201

    assert Conversation.objects.get().message_count == 32
    assert len(at_thirty.captured_queries) == len(at_five.captured_queries)
    assert len(at_five.captured_queries) <= 15


@pytest.mark.parametrize(
    ("fixture", "flags"),
    [
        ("outlook_reply", []),
        ("gmail_new", []),
        ("apple_mail_reply", []),
        ("mailing_list", ["bulk"]),
        ("forwarded", []),
        ("auto_reply", ["auto_reply"]),
        ("bounce_dsn", ["bounce"]),
        ("no_message_id", []),
        ("forbidden_attachment", ["attachment_refused"]),
        ("fax_gateway", []),
        ("charset_iso8859_1", []),
        ("charset_iso8859_2", []),
        ("charset_windows1250", []),
        ("charset_windows1252", []),
        ("charset_utf8_raw_headers", []),
        ("malformed", ["unparsed"]),
    ],
)
def test_every_fixture_replays_through_the_webhook_once(client, email_channel, fixture, flags):
    raw = eml(fixture, token="x" * 24)

    first = client.post(hook(email_channel), raw, content_type=RFC822)
    again = client.post(hook(email_channel), raw, content_type=RFC822)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["flags"] == flags
    assert again.json()["message_id"] == first.json()["message_id"]
    assert bytes(Message.objects.get().raw) == raw
