"""Inbound fax through the real /hooks/fax/<token>/ path (Telnyx JSON, SignalWire form)."""

from __future__ import annotations

import json

import pytest

from channels_inbox.models import Message
from channels_inbox.providers import simulated
from channels_inbox.services.media import FETCH_FAILED_FLAG
from channels_inbox.tasks_media import attachment_fetch
from tests.channels_inbox.fixtures.payloads import fax_post, load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_simulator():
    simulated.clear()
    yield
    simulated.clear()


def test_a_telnyx_fax_becomes_a_fax_message_and_its_pdf_is_stored(
    client, fax_channel, django_capture_on_commit_callbacks
):
    # given the provider's fax.received event with a 3-page PDF
    payload = load("fax_telnyx_received")
    pdf = b"%PDF-1.7 faktura-kopi"
    simulated.media_put(payload["data"]["payload"]["media_url"], pdf, "application/pdf")

    # when it is posted, the PDF fetch waits for the commit
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = fax_post(client, fax_channel.token, payload)
    assert response.status_code == 200
    assert len(callbacks) >= 1

    # then the message names the sender and the pages; the task stores the PDF
    message = Message.objects.get()
    assert message.kind == "fax"
    assert message.channel == fax_channel
    assert message.external_id == "b679b4b6-5d8e-4b8e-9b43-5d6a1c1e2f3a"
    assert message.from_address == "+4533445566"
    assert "+4533445566" in message.subject
    assert "3" in message.subject
    assert message.headers["pages"] == "3"
    (attachment,) = message.attachments.all()
    assert attachment.content_type == "application/pdf"
    assert attachment.filename.endswith(".pdf")
    attachment_fetch(attachment.pk)
    attachment.refresh_from_db()
    assert attachment.file.read() == pdf
    assert attachment.size == len(pdf)


def test_a_signalwire_form_fax_is_taken_too(client, fax_channel):
    response = fax_post(client, fax_channel.token, load("fax_signalwire_form"), form=True)
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.external_id == "a0a5b0a8-8d5c-4d60-9b7e-9d0c3c1d2e3f"
    assert message.from_address == "+48221234567"
    assert message.headers["pages"] == "2"


def test_a_flat_json_fax_is_taken(client, fax_channel):
    payload = {
        "id": "fx-777",
        "from": "+4598765432",
        "to": fax_channel.address,
        "pages": 1,
        "media_url": "https://media.simulated.invalid/fax/x/one.pdf",
    }
    assert fax_post(client, fax_channel.token, payload).status_code == 200
    assert Message.objects.get().external_id == "fx-777"


def test_a_forged_or_unsigned_fax_is_refused_and_nothing_is_stored(client, fax_channel):
    payload = load("fax_telnyx_received")
    forged = fax_post(client, fax_channel.token, payload, secret="guessed")
    unsigned = client.post(
        f"/hooks/fax/{fax_channel.token}/", json.dumps(payload), content_type="application/json"
    )
    assert forged.status_code == unsigned.status_code == 403
    assert not Message.objects.exists()


def test_an_unknown_token_answers_404(client, fax_channel, sms_channel):
    payload = load("fax_telnyx_received")
    assert fax_post(client, "no-such-token", payload).status_code == 404
    # another channel's token is not a fax hook either
    assert fax_post(client, sms_channel.token, payload).status_code == 404
    assert not Message.objects.exists()


def test_a_redelivered_fax_is_acknowledged_and_ignored(client, fax_channel):
    payload = load("fax_telnyx_received")
    assert fax_post(client, fax_channel.token, payload).status_code == 200
    assert fax_post(client, fax_channel.token, payload).status_code == 200
    assert Message.objects.count() == 1


def test_other_fax_events_are_acknowledged_and_ignored(client, fax_channel):
    payload = load("fax_telnyx_received")
    payload["data"]["event_type"] = "fax.media.processed"
    assert fax_post(client, fax_channel.token, payload).status_code == 200
    form = load("fax_signalwire_form", FaxStatus="receiving")
    assert fax_post(client, fax_channel.token, form, form=True).status_code == 200
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"media_url": None}, b"missing media_url"),
        ({"from": ""}, b"missing from"),
        ({"media_url": "ftp://provider.example/fax.pdf"}, b"malformed media_url"),
        ({"page_count": "three"}, b"malformed page count"),
    ],
)
def test_incomplete_faxes_answer_400_with_the_reason(client, fax_channel, change, reason):
    payload = load("fax_telnyx_received")
    payload["data"]["payload"].update(change)
    response = fax_post(client, fax_channel.token, payload)
    assert response.status_code == 400
    assert reason in response.content
    assert not Message.objects.exists()


def test_a_fax_whose_pdf_is_gone_is_kept_with_the_reason(client, fax_channel):
    payload = load("fax_telnyx_received")
    payload["data"]["payload"]["media_url"] = "https://media.simulated.invalid/fax/gone/missing"
    assert fax_post(client, fax_channel.token, payload).status_code == 200
    (attachment,) = Message.objects.get().attachments.all()
    attachment_fetch(attachment.pk)
    message = Message.objects.get()
    assert FETCH_FAILED_FLAG in message.flags
    assert any("404" in problem for problem in message.problems)


def test_the_fax_webhook_query_count_is_bounded(client, fax_channel, django_assert_max_num_queries):
    payload = load("fax_telnyx_received")
    with django_assert_max_num_queries(45):
        assert fax_post(client, fax_channel.token, payload).status_code == 200
    with django_assert_max_num_queries(4):
        assert fax_post(client, fax_channel.token, payload).status_code == 200
