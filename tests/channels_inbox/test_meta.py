"""Messenger and Instagram through the real /hooks/meta/ path: verification, messages, receipts."""

from __future__ import annotations

import json

import pytest

from channels_inbox.models import (
    Conversation,
    Message,
    MessageDirection,
    MessageStatus,
)
from channels_inbox.providers import simulated
from channels_inbox.tasks_media import attachment_fetch
from crm.models import ContactIdentity, IdentityKind
from tests.channels_inbox.fixtures.payloads import load, meta_post

HOOK = "/hooks/meta/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_simulator():
    simulated.clear()
    yield
    simulated.clear()


# --- the subscription check ------------------------------------------------------------------


def test_subscription_check_answers_the_challenge_for_our_verify_token(client, settings):
    settings.META_VERIFY_TOKEN = "nordlys-verify-2026"
    response = client.get(
        HOOK,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "nordlys-verify-2026",
            "hub.challenge": "1158201444",
        },
    )
    assert response.status_code == 200
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {
            "hub.mode": "unsubscribe",
            "hub.verify_token": "nordlys-verify-2026",
            "hub.challenge": "1",
        },
        {"hub.challenge": "1"},
    ],
)
def test_subscription_check_with_a_wrong_token_is_refused(client, settings, query):
    settings.META_VERIFY_TOKEN = "nordlys-verify-2026"
    response = client.get(HOOK, query)
    assert response.status_code == 403
    assert b"1" not in response.content


def test_without_a_configured_verify_token_no_subscription_is_confirmed(client, settings):
    settings.META_VERIFY_TOKEN = ""
    response = client.get(
        HOOK, {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "7"}
    )
    assert response.status_code == 403


# --- messages --------------------------------------------------------------------------------


def test_a_messenger_message_lands_on_the_page_channel(client, messenger_channel):
    payload = load("meta_messenger_text")
    response = meta_post(client, payload)
    assert response.status_code == 200
    message = Message.objects.get()
    event = payload["entry"][0]["messaging"][0]
    assert message.channel == messenger_channel
    assert message.kind == "messenger"
    assert message.external_id == event["message"]["mid"]
    assert message.from_address == "6543210987654321"
    assert message.text == "Hvornår åbner jeres butik i Århus på lørdag?"
    assert message.sent_at.year == 2026
    assert message.conversation.thread_key == "6543210987654321"
    assert ContactIdentity.objects.get(
        kind=IdentityKind.MESSENGER, value="6543210987654321"
    ).contact == (message.conversation.contact)


def test_an_instagram_image_is_stored_as_an_attachment_fetched_later(
    client, instagram_channel, django_capture_on_commit_callbacks
):
    payload = load("meta_instagram_image")
    url = payload["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"]
    simulated.media_put(url, b"\x89PNG-router", "image/png")
    with django_capture_on_commit_callbacks(execute=False):
        response = meta_post(client, payload)
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.kind == "instagram"
    (attachment,) = message.attachments.all()
    assert attachment.source_url == url
    assert attachment.filename == "router_n.jpg"
    attachment_fetch(attachment.pk)
    attachment.refresh_from_db()
    assert attachment.file.read() == b"\x89PNG-router"


def test_shares_without_a_file_are_kept_as_text(client, messenger_channel):
    payload = load("meta_messenger_text")
    message = payload["entry"][0]["messaging"][0]["message"]
    message["attachments"] = [
        {
            "type": "fallback",
            "payload": {"url": "https://nordlys.example/tilbud", "title": "Tilbud"},
        },
        {"type": "location", "payload": {"coordinates": {"lat": 56.15, "long": 10.2}}},
    ]
    assert meta_post(client, payload).status_code == 200
    stored = Message.objects.get()
    assert "[fallback] https://nordlys.example/tilbud" in stored.text
    assert "[location]" in stored.text
    assert not stored.attachments.exists()


def test_forged_unsigned_or_tampered_events_are_refused_and_nothing_is_stored(
    client, messenger_channel
):
    payload = load("meta_messenger_text")
    forged = meta_post(client, payload, app_secret="guessed-secret")
    unsigned = client.post(HOOK, json.dumps(payload), content_type="application/json")
    signed = simulated.meta_signed(payload)
    tampered_body = signed.body.replace(b"butik", b"kasse")
    assert tampered_body != signed.body
    tampered = client.post(
        HOOK, tampered_body, content_type="application/json", headers=signed.headers
    )
    assert forged.status_code == unsigned.status_code == tampered.status_code == 403
    assert not Message.objects.exists()


def test_meta_resending_a_mid_is_acknowledged_and_ignored(client, messenger_channel):
    payload = load("meta_messenger_text")
    assert meta_post(client, payload).status_code == 200
    assert meta_post(client, payload).status_code == 200
    assert Message.objects.count() == 1
    assert Conversation.objects.get().message_count == 1


def test_events_for_an_unknown_page_are_skipped_but_acknowledged(client, messenger_channel):
    payload = load("meta_messenger_text")
    payload["entry"][0]["id"] = "999999999"
    response = meta_post(client, payload)
    assert response.status_code == 200
    assert not Message.objects.exists()


def test_a_page_id_does_not_reach_an_instagram_channel_with_the_same_address(
    client, instagram_channel
):
    payload = load("meta_messenger_text")
    payload["entry"][0]["id"] = instagram_channel.address
    assert meta_post(client, payload).status_code == 200
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"not json", 400), (b"[1, 2]", 400), (b'{"object": "whatsapp_business_account"}', 200)],
)
def test_bodies_that_are_not_messaging_events(client, messenger_channel, body, status):
    signature = simulated.meta_signature(body)
    response = client.post(
        HOOK, body, content_type="application/json", headers={"X-Hub-Signature-256": signature}
    )
    assert response.status_code == status
    assert not Message.objects.exists()


def test_echoes_are_skipped_and_delivery_receipts_move_our_reply_forward(client, messenger_channel):
    # given a conversation with our reply, sent and known by its mid
    assert meta_post(client, load("meta_messenger_text")).status_code == 200
    inbound = Message.objects.get()
    reply = Message.objects.create(
        tenant=messenger_channel.tenant,
        conversation=inbound.conversation,
        channel=messenger_channel,
        direction=MessageDirection.OUTBOUND,
        kind="messenger",
        status=MessageStatus.SENT,
        external_id="m_our_reply_0001",
        text="Vi åbner kl. 10.",
    )
    # when Meta echoes it and reports its delivery
    response = meta_post(client, load("meta_messenger_echo_and_delivery"))
    # then no inbound copy appears, and the reply is delivered
    assert response.status_code == 200
    assert Message.objects.count() == 2
    reply.refresh_from_db()
    assert reply.status == MessageStatus.DELIVERED


def test_the_meta_webhook_query_count_is_bounded(
    client, messenger_channel, django_assert_max_num_queries
):
    meta_post(client, load("meta_messenger_text"))
    payload = load("meta_messenger_text")
    payload["entry"][0]["messaging"][0]["message"]["mid"] = "m_second_message"
    # a returning customer's message: no new contact, conversation or ticket
    with django_assert_max_num_queries(30):
        assert meta_post(client, payload).status_code == 200
    # a redelivery: the channel and the dedupe lookup
    with django_assert_max_num_queries(4):
        assert meta_post(client, payload).status_code == 200


def test_one_batch_can_carry_several_pages(client, messenger_channel, tenant, queue):
    # given a second page of ours
    from tests.channels_inbox.conftest import make_channel

    second = make_channel(tenant, queue, "messenger", name="Butik", address="104857600000002")
    entry = load("meta_messenger_text")["entry"][0]
    other = json.loads(json.dumps(entry))
    other["id"] = other["messaging"][0]["recipient"]["id"] = second.address
    other["messaging"][0]["message"]["mid"] = "m_for_the_second_page"
    stranger = {**entry, "id": "999"}
    # when Meta batches entries for both pages and one we do not know
    response = meta_post(client, {"object": "page", "entry": [entry, stranger, other]})
    # then each known page gets its message
    assert response.status_code == 200
    assert Message.objects.filter(channel=messenger_channel).count() == 1
    assert Message.objects.get(channel=second).external_id == "m_for_the_second_page"
    assert Message.objects.count() == 2


def test_a_button_tap_arrives_as_its_title(client, messenger_channel):
    payload = load("meta_messenger_text")
    event = payload["entry"][0]["messaging"][0]
    del event["message"]
    event["postback"] = {
        "mid": "m_postback_1",
        "title": "Tal med en medarbejder",
        "payload": "AGENT",
    }
    assert meta_post(client, payload).status_code == 200
    message = Message.objects.get()
    assert (message.external_id, message.text) == ("m_postback_1", "Tal med en medarbejder")
    assert message.headers == {"postback_payload": "AGENT"}
