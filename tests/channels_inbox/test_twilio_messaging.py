"""Inbound SMS/WhatsApp and status callbacks through the real /hooks/twilio/messaging/ paths."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_inbox.models import Attachment, Conversation, Message, MessageStatus
from channels_inbox.providers import simulated
from channels_inbox.services.replies import message_reply, message_send
from channels_inbox.tasks_media import attachment_fetch
from crm.models import ContactIdentity, IdentityKind
from crm.tenancy import principal_for_user
from tests.channels_inbox.fixtures.payloads import load, twilio_post

INBOUND = "/hooks/twilio/messaging/"
STATUS = "/hooks/twilio/messaging/status/"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_simulator():
    simulated.clear()
    yield
    simulated.clear()


def test_inbound_sms_becomes_a_message_on_the_senders_contact(client, sms_channel):
    # given a recorded SMS to the channel's number
    params = load("twilio_sms_inbound")

    # when Twilio posts it
    response = twilio_post(client, INBOUND, params)

    # then it is stored once, threaded by the sender's number, on a contact with that phone
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response>" in response.content
    message = Message.objects.get()
    assert message.channel == sms_channel
    assert message.kind == "sms"
    assert message.external_id == params["MessageSid"]
    assert message.from_address == "+4520304050"
    assert message.text.startswith("Hej! Min elregning")
    assert message.headers["NumSegments"] == "2"
    conversation = message.conversation
    assert conversation.thread_key == "+4520304050"
    assert ContactIdentity.objects.get(kind=IdentityKind.PHONE, value="+4520304050").contact == (
        conversation.contact
    )


def test_unsigned_and_forged_requests_are_refused_and_nothing_is_stored(client, sms_channel):
    params = load("twilio_sms_inbound")
    unsigned = client.post(INBOUND, params)
    forged = twilio_post(client, INBOUND, params, auth_token="not-the-token")
    tampered = twilio_post(client, INBOUND, params)
    assert unsigned.status_code == 403
    assert forged.status_code == 403
    assert tampered.status_code == 200  # the real signature passes...
    # ...but the same signature over different parameters does not
    signature = simulated.twilio_signed(simulated.public_url(INBOUND), params).headers
    changed = {**params, "Body": "Send me your password", "MessageSid": "SM" + "1" * 32}
    response = client.post(INBOUND, changed, headers=signature)
    assert response.status_code == 403
    assert Message.objects.count() == 1


def test_a_redelivered_message_sid_is_acknowledged_and_ignored(client, sms_channel):
    params = load("twilio_sms_inbound")
    first = twilio_post(client, INBOUND, params)
    again = twilio_post(client, INBOUND, params)
    assert first.status_code == again.status_code == 200
    assert Message.objects.count() == 1
    assert Conversation.objects.get().message_count == 1


def test_a_second_sms_from_the_same_number_continues_the_conversation(client, sms_channel):
    twilio_post(client, INBOUND, load("twilio_sms_inbound"))
    twilio_post(
        client,
        INBOUND,
        load("twilio_sms_inbound", MessageSid="SM" + "a" * 32, Body="Hallo? Nogen der?"),
    )
    assert Message.objects.count() == 2
    assert Conversation.objects.count() == 1


def test_unknown_to_number_answers_404_with_the_reason(client, sms_channel):
    response = twilio_post(client, INBOUND, load("twilio_sms_inbound", To="+4599999999"))
    assert response.status_code == 404
    assert b"no active channel for To=+4599999999" in response.content
    assert not Message.objects.exists()


def test_an_inactive_channel_takes_no_messages(client, sms_channel):
    sms_channel.is_active = False
    sms_channel.save(update_fields=["is_active"])
    response = twilio_post(client, INBOUND, load("twilio_sms_inbound"))
    assert response.status_code == 404
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"MessageSid": "not-a-sid"}, b"malformed MessageSid"),
        ({"From": ""}, b"missing parameter From"),
        ({"NumMedia": "many"}, b"malformed NumMedia"),
        ({"NumMedia": "1"}, b"missing parameter MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": "file:///etc/passwd"}, b"malformed MediaUrl0"),
    ],
)
def test_malformed_parameters_answer_400_with_the_reason(client, sms_channel, override, reason):
    response = twilio_post(client, INBOUND, load("twilio_sms_inbound", **override))
    assert response.status_code == 400
    assert reason in response.content
    assert not Message.objects.exists()


def test_whatsapp_media_is_fetched_and_stored_after_commit(
    client, whatsapp_channel, django_capture_on_commit_callbacks
):
    # given a WhatsApp message with a photo and a PDF
    params = load("twilio_whatsapp_media")
    simulated.media_put(params["MediaUrl0"], b"\xff\xd8\xff-meter-photo", "image/jpeg")

    # when it arrives, the fetches are only scheduled (after commit), one per medium
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = twilio_post(client, INBOUND, params)
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.kind == "whatsapp"
    assert message.from_address == "whatsapp:+48601234567"
    assert message.from_name == "Zofia Wiśniewska"
    attachments = list(message.attachments.order_by("id"))
    assert [a.source_url for a in attachments] == [params["MediaUrl0"], params["MediaUrl1"]]
    assert [a.content_type for a in attachments] == ["image/jpeg", "application/pdf"]
    assert not any(a.file for a in attachments)
    assert len(callbacks) >= 2

    # then the task (run here as a worker would) stores the bytes
    for attachment in attachments:
        attachment_fetch(attachment.pk)
    photo, pdf = Attachment.objects.filter(message=message).order_by("id")
    assert photo.file.read() == b"\xff\xd8\xff-meter-photo"
    assert photo.size == len(b"\xff\xd8\xff-meter-photo")
    assert pdf.file.read().startswith(b"%PDF-")
    assert ContactIdentity.objects.filter(kind=IdentityKind.WHATSAPP, value="+48601234567").exists()


def _seed(client, start: int, count: int) -> None:
    for index in range(start, start + count):
        params = load("twilio_sms_inbound", MessageSid=f"SM{index:032x}", From=f"+45203{index:05d}")
        assert twilio_post(client, INBOUND, params).status_code == 200


def _queries_for_new_customer(client, sender: str, sid: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = twilio_post(
            client, INBOUND, load("twilio_sms_inbound", MessageSid=sid, From=sender)
        )
    assert response.status_code == 200
    return len(context)


def test_the_inbound_webhook_query_count_does_not_grow_with_the_inbox(
    client, sms_channel, django_assert_max_num_queries
):
    # given 5 earlier conversations, a new customer's first SMS costs N queries
    _seed(client, 0, 5)
    with_5 = _queries_for_new_customer(client, "+4540000001", "SM" + "e" * 32)
    # and with 30 earlier conversations, exactly as many
    _seed(client, 5, 25)
    with_30 = _queries_for_new_customer(client, "+4540000002", "SM" + "f" * 32)
    assert with_5 == with_30
    assert with_30 <= 45  # contact, conversation, ticket, routing, timeline, events
    # and a duplicate delivery costs almost nothing
    with django_assert_max_num_queries(4):
        twilio_post(client, INBOUND, load("twilio_sms_inbound", MessageSid="SM" + "f" * 32))


# --- status callbacks ------------------------------------------------------------------------


@pytest.fixture
def sent_reply(client, sms_channel, agent_user, settings):
    """An agent's reply to an inbound SMS, sent through the simulated Twilio."""
    settings.TWILIO_SIMULATED = True
    twilio_post(client, INBOUND, load("twilio_sms_inbound"))
    conversation = Conversation.objects.get()
    reply = message_reply(
        conversation=conversation,
        actor=principal_for_user(agent_user),
        text="Vi ringer dig i dag inden kl. 16.",
    )
    return message_send(message_id=reply.pk)


def _status(client, reply, status, **extra):
    params = load(
        "twilio_status_delivered",
        MessageSid=reply.external_id,
        SmsSid=reply.external_id,
        MessageStatus=status,
        SmsStatus=status,
        **extra,
    )
    return twilio_post(client, STATUS, params)


def test_a_reply_goes_out_through_the_simulated_twilio_with_our_status_callback(sent_reply):
    assert sent_reply.status == MessageStatus.SENT
    assert sent_reply.external_id.startswith("SM")
    (request,) = simulated.sent_log(provider="twilio")
    assert request["sid"] == sent_reply.external_id
    assert request["from"] == "+4570100200"
    assert request["to"] == "+4520304050"
    assert request["body"] == "Vi ringer dig i dag inden kl. 16."
    assert request["status_callback"].endswith(STATUS)


def test_status_callbacks_move_a_reply_forward_and_never_back(client, sent_reply):
    delivered = _status(client, sent_reply, "delivered")
    assert delivered.status_code == 204
    sent_reply.refresh_from_db()
    assert sent_reply.status == MessageStatus.DELIVERED

    # a late "sent" (Twilio reorders callbacks) changes nothing
    assert _status(client, sent_reply, "sent").status_code == 204
    assert _status(client, sent_reply, "queued").status_code == 204
    sent_reply.refresh_from_db()
    assert sent_reply.status == MessageStatus.DELIVERED


def test_an_undelivered_reply_fails_with_a_reason_the_agent_can_read(client, sent_reply):
    response = _status(client, sent_reply, "undelivered", ErrorCode="30003")
    assert response.status_code == 204
    sent_reply.refresh_from_db()
    assert sent_reply.status == MessageStatus.FAILED
    assert sent_reply.error_code == "30003"
    assert sent_reply.error_message == "Unreachable destination handset."


def test_status_for_an_unknown_sid_or_status_is_acknowledged_and_ignored(client, sent_reply):
    unknown = twilio_post(
        client,
        STATUS,
        load("twilio_status_delivered", MessageSid="SM" + "0" * 32, From="+4511111111"),
    )
    odd = _status(client, sent_reply, "partially_delivered")
    assert unknown.status_code == odd.status_code == 204
    sent_reply.refresh_from_db()
    assert sent_reply.status == MessageStatus.SENT


def test_a_forged_status_callback_is_refused(client, sent_reply):
    params = load(
        "twilio_status_delivered", MessageSid=sent_reply.external_id, MessageStatus="failed"
    )
    response = twilio_post(client, STATUS, params, auth_token="guessed")
    assert response.status_code == 403
    sent_reply.refresh_from_db()
    assert sent_reply.status == MessageStatus.SENT


def test_status_callback_query_count_is_bounded(client, sent_reply, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = _status(client, sent_reply, "delivered")
    assert response.status_code == 204


def test_the_simulated_twilio_reports_delivery_of_recorded_replies_once(client, sent_reply):
    transport = simulated.DjangoClientTransport(client)
    (report,) = simulated.twilio_report(transport, status="delivered")
    assert report[0] == sent_reply.external_id
    assert report[1].status == 204
    sent_reply.refresh_from_db()
    assert sent_reply.status == MessageStatus.DELIVERED
    # reporting again sends nothing new
    assert simulated.twilio_report(transport, status="delivered") == []


def test_scheduled_fetches_reach_the_celery_task_after_commit(
    client, whatsapp_channel, django_capture_on_commit_callbacks
):
    # given a worker that runs tasks as they are queued (JSON-serialised like a real one)
    from contactcenter.celery import app as celery_app

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        # when a message with media commits
        with django_capture_on_commit_callbacks(execute=True):
            assert twilio_post(client, INBOUND, load("twilio_whatsapp_media")).status_code == 200
    finally:
        celery_app.conf.task_always_eager = previous
    # then both files are stored
    attachments = Attachment.objects.all()
    assert len(attachments) == 2
    assert all(attachment.file and attachment.size for attachment in attachments)


def test_a_whatsapp_location_pin_is_kept_as_text(client, whatsapp_channel):
    params = load(
        "twilio_whatsapp_media",
        NumMedia="0",
        Body="",
        MessageType="location",
        Latitude="55.6761",
        Longitude="12.5683",
        Label="Rådhuspladsen",
    )
    assert twilio_post(client, INBOUND, params).status_code == 200
    assert Message.objects.get().text == "[location] 55.6761,12.5683 Rådhuspladsen"


def test_a_stop_message_is_flagged_so_agents_know_replies_will_be_refused(client, sms_channel):
    params = load("twilio_sms_inbound", Body="STOP", OptOutType="STOP")
    assert twilio_post(client, INBOUND, params).status_code == 200
    message = Message.objects.get()
    assert "opt_out" in message.flags
    assert any("opted out" in problem for problem in message.problems)
