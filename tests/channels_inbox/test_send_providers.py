"""Replies go out on the channel they came from: the registry's choice, and the whole path
through the simulated Twilio and Meta (their real webhook for the status callbacks)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from channels_inbox import tasks_mail
from channels_inbox.models import MessageStatus
from channels_inbox.providers import meta, simulated, smtp, twilio_messaging
from channels_inbox.providers.base import SendError
from channels_inbox.providers.registry import sender_for
from channels_inbox.services import replies
from crm.tenancy import principal_for_user
from tests.channels_inbox.mailservers import conversation_with_inbound

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr(tasks_mail.message_send, "delay", lambda message_id: None)


@pytest.fixture(autouse=True)
def _clean_simulator():
    simulated.clear()
    yield
    simulated.clear()


@pytest.fixture
def agent(agent_user):
    return principal_for_user(agent_user)


def test_email_is_sent_by_smtp_through_the_channel_itself(email_channel):
    sender = sender_for(email_channel)

    assert isinstance(sender, smtp.SmtpSender)
    assert sender.channel == email_channel


def test_web_forms_letters_and_faxes_answer_through_their_reply_channel(
    webform_channel, post_channel, fax_channel, email_channel
):
    for channel in (webform_channel, post_channel, fax_channel):
        channel.reply_channel = email_channel
        channel.save()
        sender = sender_for(channel)
        assert isinstance(sender, smtp.SmtpSender)
        assert sender.channel == email_channel


def test_a_letter_without_reply_channel_has_no_way_back(post_channel):
    with pytest.raises(SendError) as error:
        sender_for(post_channel)

    assert error.value.permanent
    assert error.value.code == "no_reply_channel"


def test_an_inactive_reply_channel_is_not_used(webform_channel, email_channel):
    email_channel.is_active = False
    email_channel.save()

    with pytest.raises(SendError):
        sender_for(webform_channel)


@override_settings(TWILIO_SIMULATED=True, META_SIMULATED=True)
def test_messaging_channels_use_their_providers(
    sms_channel, whatsapp_channel, messenger_channel, instagram_channel
):
    for channel in (sms_channel, whatsapp_channel):
        assert isinstance(sender_for(channel), twilio_messaging.SimulatedTwilioMessagingSender)
    for channel in (messenger_channel, instagram_channel):
        assert isinstance(sender_for(channel), meta.SimulatedMetaSender)


@override_settings(TWILIO_SIMULATED=True)
def test_a_whatsapp_reply_travels_through_twilio_and_its_status_callback(
    whatsapp_channel, agent, client, django_capture_on_commit_callbacks
):
    # given a WhatsApp conversation
    customer = "whatsapp:+4520304050"
    conversation = conversation_with_inbound(
        whatsapp_channel, customer=customer, thread_key=customer, message_id=""
    )

    # when the agent answers and the task sends it
    reply = replies.message_reply(conversation=conversation, actor=agent, text="Hej! Vi ringer.")
    sent = replies.message_send(message_id=reply.pk)

    # then Twilio got the request, to the customer's WhatsApp address, and gave a sid
    assert sent.status == MessageStatus.SENT
    (request,) = simulated.sent_log(provider="twilio")
    assert (request["to"], request["from"], request["body"]) == (
        customer,
        "whatsapp:+4570100300",
        "Hej! Vi ringer.",
    )
    assert sent.external_id == request["sid"]

    # when Twilio reports delivery, then read, and a late "sent" arrives last
    for status in ("delivered", "read", "sent"):
        webhook = simulated.twilio_status_request(
            message_sid=request["sid"], status=status, from_=request["from"], to=customer
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/hooks/twilio/messaging/status/",
                data=webhook.body,
                content_type=webhook.content_type,
                headers=webhook.headers,
            )
        assert response.status_code < 300

    # then the message is read, never moved back
    reply.refresh_from_db()
    assert reply.status == MessageStatus.READ


@override_settings(TWILIO_SIMULATED=True)
def test_an_unreachable_number_fails_the_reply_with_the_providers_reason(sms_channel, agent):
    conversation = conversation_with_inbound(
        sms_channel, customer="+4520000000", thread_key="+4520000000", message_id=""
    )
    reply = replies.message_reply(conversation=conversation, actor=agent, text="Hej")

    failed = replies.message_send(message_id=reply.pk)

    assert failed.status == MessageStatus.FAILED
    assert failed.error_code == "30003"
    assert "Unreachable" in failed.error_message


@override_settings(META_SIMULATED=True)
def test_a_messenger_reply_goes_to_the_senders_id(messenger_channel, agent):
    psid = "6543210987654321"
    conversation = conversation_with_inbound(
        messenger_channel, customer=psid, thread_key=psid, message_id=""
    )
    reply = replies.message_reply(conversation=conversation, actor=agent, text="Hej fra os")

    sent = replies.message_send(message_id=reply.pk)

    assert sent.status == MessageStatus.SENT
    (request,) = simulated.sent_log(provider="meta")
    assert (request["recipient"], request["text"]) == (psid, "Hej fra os")
    assert sent.external_id == request["mid"]
