"""`manage.py simulate_message` posts signed requests to the real webhook paths."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from channels_inbox.models import Message
from channels_inbox.providers import simulated

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_simulator():
    simulated.clear()
    yield
    simulated.clear()


def simulate(*args: str) -> str:
    out = io.StringIO()
    call_command("simulate_message", *args, "--in-process", stdout=out)
    return out.getvalue()


def test_an_sms_by_channel_token(sms_channel):
    output = simulate(f"--channel={sms_channel.token}", "--from", "+4520304050", "--text", "Hej!")
    assert "/hooks/twilio/messaging/ -> 200" in output
    message = Message.objects.get()
    assert (message.kind, message.from_address, message.text) == ("sms", "+4520304050", "Hej!")
    assert message.external_id.startswith("SM")


def test_a_whatsapp_message_with_media_by_channel_address(whatsapp_channel):
    media = simulated.media_url("twilio", "foto.jpg")
    simulate(
        f"--channel={whatsapp_channel.address}",
        "--from",
        "+48601234567",
        "--text",
        "Zdjęcie",
        "--media",
        media,
    )
    message = Message.objects.get()
    assert message.kind == "whatsapp"
    assert message.from_address == "whatsapp:+48601234567"
    assert message.external_id.startswith("MM")
    (attachment,) = message.attachments.all()
    assert (attachment.source_url, attachment.content_type) == (media, "image/jpeg")


@pytest.mark.parametrize("fixture", ["messenger_channel", "instagram_channel"])
def test_meta_messages_by_channel_id(request, fixture):
    channel = request.getfixturevalue(fixture)
    output = simulate(f"--channel={channel.pk}", "--from", "5550001", "--text", "Hej fra Meta")
    assert "/hooks/meta/ -> 200" in output
    message = Message.objects.get()
    assert (message.kind, message.from_address, message.channel) == (
        channel.kind,
        "5550001",
        channel,
    )


def test_a_fax_carries_a_simulated_pdf(fax_channel):
    simulate(f"--channel={fax_channel.token}", "--from", "+4533445566", "--pages", "4")
    message = Message.objects.get()
    assert message.kind == "fax"
    assert message.headers["pages"] == "4"
    (attachment,) = message.attachments.all()
    assert attachment.source_url.startswith(f"https://{simulated.MEDIA_HOST}/fax/")


def test_an_email_through_the_email_hook(email_channel):
    output = simulate(
        f"--channel={email_channel.token}",
        "--from",
        "kunde@example.dk",
        "--subject",
        "Faktura 4411",
        "--text",
        "Hvorfor er fakturaen så høj?",
    )
    assert f"/hooks/email/{email_channel.token}/ -> 201" in output
    message = Message.objects.get()
    assert message.kind == "email"
    assert message.subject == "Faktura 4411"
    assert "Hvorfor er fakturaen så høj?" in message.text


def test_a_web_form_or_post_channel_cannot_be_simulated(webform_channel, post_channel):
    for channel in (webform_channel, post_channel):
        with pytest.raises(CommandError, match="no provider to simulate"):
            simulate(f"--channel={channel.token}", "--from", "a@b.dk", "--text", "x")


def test_an_unknown_channel_is_named_in_the_error(db):
    with pytest.raises(CommandError, match="No channel with id, token or address 'nope'"):
        simulate(f"--channel={'nope'}", "--from", "+4520304050", "--text", "x")


def test_a_refused_request_fails_the_command(sms_channel):
    sms_channel.is_active = False
    sms_channel.save(update_fields=["is_active"])
    with pytest.raises(CommandError, match=r"refused the message \(404\)"):
        simulate(f"--channel={sms_channel.pk}", "--from", "+4520304050", "--text", "x")
    assert not Message.objects.exists()


def test_report_moves_simulated_replies_on_sms_and_messenger(
    settings, sms_channel, messenger_channel, agent_user
):
    # given replies sent through the simulated Twilio and Meta
    from channels_inbox.models import Conversation, MessageStatus
    from channels_inbox.services.replies import message_reply, message_send
    from crm.tenancy import principal_for_user

    settings.TWILIO_SIMULATED = settings.META_SIMULATED = True
    simulate(f"--channel={sms_channel.token}", "--from", "+4520304050", "--text", "Hej")
    simulate(f"--channel={messenger_channel.token}", "--from", "5550001", "--text", "Hej")
    replies = [
        message_send(
            message_id=message_reply(
                conversation=conversation, actor=principal_for_user(agent_user), text="Svar"
            ).pk
        )
        for conversation in Conversation.objects.all()
    ]
    assert {reply.status for reply in replies} == {MessageStatus.SENT}

    # when the simulator reports them delivered
    output = simulate("--report", "delivered")

    # then both are delivered, and a second report finds nothing left to say
    assert output.count("-> 204") == 1  # Twilio's status callback
    assert output.count("-> 200") == 1  # Meta's delivery receipt
    for reply in replies:
        reply.refresh_from_db()
        assert reply.status == MessageStatus.DELIVERED
    assert "No simulated replies" in simulate("--report", "delivered")


def test_report_failed_shows_the_reason_on_the_reply(settings, sms_channel, agent_user):
    from channels_inbox.models import Conversation, MessageStatus
    from channels_inbox.services.replies import message_reply, message_send
    from crm.tenancy import principal_for_user

    settings.TWILIO_SIMULATED = True
    simulate(f"--channel={sms_channel.token}", "--from", "+4520304050", "--text", "Hej")
    reply = message_reply(
        conversation=Conversation.objects.get(), actor=principal_for_user(agent_user), text="Svar"
    )
    message_send(message_id=reply.pk)
    simulate("--report", "failed")
    reply.refresh_from_db()
    assert reply.status == MessageStatus.FAILED
    assert reply.error_message == "Unreachable destination handset."


def test_a_message_needs_a_channel_and_a_sender(db):
    with pytest.raises(CommandError, match="Give --channel and --from"):
        simulate("--text", "x")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_over_real_http_to_a_running_server(live_server, tenant, queue):
    # given a running server (PUBLIC_BASE_URL is what the request is signed for)
    from tests.channels_inbox.conftest import make_channel

    channel = make_channel(tenant, queue, "sms", name="SMS", address="+4570100299")
    out = io.StringIO()
    # when the command posts over HTTP
    call_command(
        "simulate_message",
        f"--channel={channel.token}",
        "--from",
        "+4520304099",
        "--text",
        "Over HTTP",
        "--base-url",
        live_server.url,
        stdout=out,
    )
    # then the real server verified and stored it
    assert "-> 200" in out.getvalue()
    assert Message.objects.get(channel=channel).text == "Over HTTP"
