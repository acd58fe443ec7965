"""The public web form at /forms/<token>/: embedding, submission, confirmation, abuse."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_inbox.forms import form_token_new
from channels_inbox.models import Message, MessageDirection, MessageStatus
from crm.models import ContactIdentity, IdentityKind

pytestmark = pytest.mark.django_db

ADDRESS = "127.0.0.1"


@pytest.fixture(autouse=True)
def _fresh_rate_limit(settings):
    settings.WEBFORM_RATE_LIMIT = "5/m"
    cache.delete(f"webform-rate:{ADDRESS}")
    cache.delete("webform-rate:203.0.113.9")
    yield
    cache.delete(f"webform-rate:{ADDRESS}")
    cache.delete("webform-rate:203.0.113.9")


def url(channel) -> str:
    return f"/forms/{channel.token}/"


def token_from(response) -> str:
    match = re.search(rb'name="form_token" value="([^"]+)"', response.content)
    assert match, "the page carries a form token"
    return match.group(1).decode()


def submission(client, channel, **fields) -> dict:
    data = {
        "name": "Mette Frederiksen",
        "email": "Mette@Example.dk",
        "phone": "+45 20 30 40 51",
        "subject": "Flytning",
        "message": "Jeg flytter den 1. december. Hvordan overfører jeg min aftale?",
        "website": "",
        "form_token": token_from(client.get(url(channel))),
    }
    data.update(fields)
    return data


def test_the_form_can_be_embedded_in_a_customers_site(client, webform_channel):
    response = client.get(url(webform_channel))
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert b'name="email"' in response.content
    assert b'name="website"' in response.content  # the honeypot, hidden by CSS
    assert webform_channel.name.encode() in response.content


def test_other_pages_still_refuse_framing(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"


def test_a_submission_opens_a_conversation_and_confirms_by_email(client, webform_channel):
    # given a visitor's form
    data = submission(client, webform_channel)

    # when they send it (cross-site, so without a CSRF cookie)
    response = client.post(url(webform_channel), data)

    # then they see a thank-you, and the message is in the inbox on a contact by that email
    assert response.status_code == 200
    assert b"Thank you" in response.content
    message = Message.objects.get(direction=MessageDirection.INBOUND)
    assert message.kind == "webform"
    assert message.from_address == "mette@example.dk"
    assert message.from_name == "Mette Frederiksen"
    assert message.subject == "Flytning"
    assert message.text.startswith("Jeg flytter")
    assert message.headers["phone"] == "+45 20 30 40 51"
    contact = message.conversation.contact
    assert (
        ContactIdentity.objects.get(kind=IdentityKind.EMAIL, value="mette@example.dk").contact
        == contact
    )
    # and a confirmation is queued to them, marked as automatic, through the reply channel
    confirmation = Message.objects.get(direction=MessageDirection.OUTBOUND)
    assert confirmation.conversation == message.conversation
    assert confirmation.status == MessageStatus.QUEUED
    assert "mette@example.dk" in confirmation.to_addresses
    assert "Jeg flytter" in confirmation.text


def test_csrf_is_not_required_but_the_signed_form_token_is(client, webform_channel):
    csrf_client = type(client)(enforce_csrf_checks=True)
    data = submission(csrf_client, webform_channel)
    assert csrf_client.post(url(webform_channel), data).status_code == 200

    forged = submission(client, webform_channel, form_token="made-up")
    response = client.post(url(webform_channel), forged)
    assert response.status_code == 400
    assert b"expired" in response.content
    # what the visitor wrote is kept in the form for them to send again
    assert b"Jeg flytter den 1. december" in response.content
    assert Message.objects.filter(direction=MessageDirection.INBOUND).count() == 1


def test_a_token_for_another_form_does_not_work(client, webform_channel, tenant, queue):
    from tests.channels_inbox.conftest import make_channel

    other = make_channel(tenant, queue, "webform", name="Andet formular")
    data = submission(client, webform_channel, form_token=form_token_new(other))
    assert client.post(url(webform_channel), data).status_code == 400
    assert not Message.objects.exists()


def test_sending_the_same_page_twice_makes_one_message_and_one_confirmation(
    client, webform_channel
):
    data = submission(client, webform_channel)
    assert client.post(url(webform_channel), data).status_code == 200
    assert client.post(url(webform_channel), data).status_code == 200
    assert Message.objects.filter(direction=MessageDirection.INBOUND).count() == 1
    assert Message.objects.filter(direction=MessageDirection.OUTBOUND).count() == 1


def test_bad_input_is_explained_and_nothing_is_stored(client, webform_channel):
    data = submission(client, webform_channel, email="not-an-address", message="   ")
    response = client.post(url(webform_channel), data)
    assert response.status_code == 400
    assert b"Enter a valid email address." in response.content
    assert b"Flytning" in response.content  # the valid fields are kept
    assert not Message.objects.exists()


def test_a_forbidden_attachment_is_refused_with_the_reason(client, webform_channel):
    data = submission(
        client,
        webform_channel,
        attachment=SimpleUploadedFile("faktura.pdf.exe", b"MZ...", "application/octet-stream"),
    )
    response = client.post(url(webform_channel), data)
    assert response.status_code == 400
    assert b"Files of type .exe are not accepted." in response.content
    assert not Message.objects.exists()


def test_an_attachment_is_stored_with_the_message(client, webform_channel):
    data = submission(
        client,
        webform_channel,
        attachment=SimpleUploadedFile("maaler.jpg", b"\xff\xd8\xffjpeg", "image/jpeg"),
    )
    assert client.post(url(webform_channel), data).status_code == 200
    (attachment,) = Message.objects.get(direction=MessageDirection.INBOUND).attachments.all()
    assert attachment.filename == "maaler.jpg"
    assert attachment.file.read() == b"\xff\xd8\xffjpeg"


def test_a_filled_honeypot_pretends_success_and_stores_nothing(client, webform_channel):
    data = submission(client, webform_channel, website="https://cheap-pills.example")
    response = client.post(url(webform_channel), data)
    assert response.status_code == 200
    assert b"Thank you" in response.content
    assert not Message.objects.exists()


def test_submissions_are_rate_limited_per_client_address(client, webform_channel, settings):
    settings.WEBFORM_RATE_LIMIT = "2/m"
    first = client.post(url(webform_channel), submission(client, webform_channel))
    second = client.post(url(webform_channel), submission(client, webform_channel))
    third = client.post(url(webform_channel), submission(client, webform_channel))
    assert first.status_code == second.status_code == 200
    assert third.status_code == 429
    assert b"Too many messages" in third.content
    assert Message.objects.filter(direction=MessageDirection.INBOUND).count() == 2
    # another visitor is not held back
    other = client.post(
        url(webform_channel), submission(client, webform_channel), REMOTE_ADDR="203.0.113.9"
    )
    assert other.status_code == 200


def test_unknown_and_switched_off_forms_are_not_found(client, webform_channel, email_channel):
    assert client.get("/forms/no-such-token/").status_code == 404
    # an email channel's token is no form
    assert client.get(url(email_channel)).status_code == 404
    webform_channel.is_active = False
    webform_channel.save(update_fields=["is_active"])
    assert client.get(url(webform_channel)).status_code == 404


def test_the_form_submission_query_count_is_bounded(
    client, webform_channel, django_assert_max_num_queries
):
    data = submission(client, webform_channel)
    with django_assert_max_num_queries(60):
        assert client.post(url(webform_channel), data).status_code == 200


def test_without_a_reply_channel_the_message_is_kept_and_no_confirmation_is_sent(
    client, webform_channel
):
    webform_channel.reply_channel = None
    webform_channel.save(update_fields=["reply_channel"])
    response = client.post(url(webform_channel), submission(client, webform_channel))
    assert response.status_code == 200
    assert Message.objects.filter(direction=MessageDirection.INBOUND).count() == 1
    assert not Message.objects.filter(direction=MessageDirection.OUTBOUND).exists()
