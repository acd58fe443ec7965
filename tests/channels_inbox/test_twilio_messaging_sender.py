"""Sending SMS/WhatsApp: the real sender at the twilio SDK's HTTP edge, and the simulated one."""

from __future__ import annotations

import json
import logging

import pytest
from twilio.http import HttpClient
from twilio.http.response import Response

from channels_inbox.models import Message
from channels_inbox.providers import simulated, twilio_messaging
from channels_inbox.providers.base import OutboundMessage, SendError
from channels_inbox.providers.registry import sender_for

ACCOUNT = "AC" + "b" * 32


class RecordingHttpClient(HttpClient):
    """Stands in for Twilio's API at the SDK's HTTP edge: records, answers as told."""

    def __init__(self, status: int = 201, body: dict | None = None) -> None:
        super().__init__(logger=logging.getLogger("twilio.http_client"), is_async=False)
        self.requests: list[dict] = []
        self.status = status
        self.body = body or {"sid": "SM" + "c" * 32, "account_sid": ACCOUNT, "status": "queued"}

    def request(self, method, url, params=None, data=None, headers=None, auth=None, **kwargs):
        self.requests.append({"method": method, "url": url, "data": data, "auth": auth})
        return Response(self.status, json.dumps(self.body))


@pytest.fixture
def real_twilio(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = "real-auth-token"
    settings.TWILIO_SIMULATED = False
    return settings


def outbound(channel, to="+4520304050", text="Vi ringer i dag.") -> OutboundMessage:
    return OutboundMessage(channel=channel, message=Message(pk=7), to=[to], text=text)


def test_the_registry_picks_the_real_or_simulated_sender(settings, sms_channel, real_twilio):
    assert isinstance(sender_for(sms_channel), twilio_messaging.TwilioMessagingSender)
    settings.TWILIO_SIMULATED = True
    assert isinstance(sender_for(sms_channel), twilio_messaging.SimulatedTwilioMessagingSender)


def test_the_real_sender_creates_the_message_with_our_status_callback(real_twilio, sms_channel):
    http = RecordingHttpClient()
    result = twilio_messaging.TwilioMessagingSender(sms_channel, http_client=http).send(
        outbound(sms_channel)
    )
    assert (result.external_id, result.status) == ("SM" + "c" * 32, "queued")
    (request,) = http.requests
    assert request["method"] == "POST"
    assert request["url"].endswith(f"/Accounts/{ACCOUNT}/Messages.json")
    assert request["auth"] == (ACCOUNT, "real-auth-token")
    data = {
        key: value[0] if isinstance(value, list) else value
        for key, value in request["data"].items()
    }
    assert data["From"] == "+4570100200"
    assert data["To"] == "+4520304050"
    assert data["Body"] == "Vi ringer i dag."
    assert data["StatusCallback"] == real_twilio.PUBLIC_BASE_URL + "/hooks/twilio/messaging/status/"


def test_whatsapp_recipients_get_their_prefix(real_twilio, whatsapp_channel):
    http = RecordingHttpClient()
    twilio_messaging.TwilioMessagingSender(whatsapp_channel, http_client=http).send(
        outbound(whatsapp_channel, to="+48601234567")
    )
    data = http.requests[0]["data"]
    assert data["From"] == "whatsapp:+4570100300"
    assert data["To"] == "whatsapp:+48601234567"


def test_a_refusal_is_a_permanent_failure_with_twilios_reason(real_twilio, sms_channel):
    http = RecordingHttpClient(
        400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}
    )
    with pytest.raises(SendError) as raised:
        twilio_messaging.TwilioMessagingSender(sms_channel, http_client=http).send(
            outbound(sms_channel)
        )
    assert raised.value.permanent
    assert raised.value.code == "21610"
    assert "unsubscribed" in str(raised.value)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_overload_and_server_errors_are_retried(real_twilio, sms_channel, status):
    http = RecordingHttpClient(
        status, {"code": 20429, "message": "Too Many Requests", "status": status}
    )
    with pytest.raises(SendError) as raised:
        twilio_messaging.TwilioMessagingSender(sms_channel, http_client=http).send(
            outbound(sms_channel)
        )
    assert not raised.value.permanent


def test_an_empty_message_or_channel_without_a_number_is_refused_before_any_request(
    real_twilio, sms_channel
):
    http = RecordingHttpClient()
    sender = twilio_messaging.TwilioMessagingSender(sms_channel, http_client=http)
    with pytest.raises(SendError, match="empty"):
        sender.send(outbound(sms_channel, text=""))
    sms_channel.address = ""
    with pytest.raises(SendError, match="no number"):
        sender.send(outbound(sms_channel))
    assert http.requests == []


def test_the_simulated_sender_records_the_request_in_redis(settings, sms_channel):
    settings.TWILIO_SIMULATED = True
    simulated.clear()
    result = twilio_messaging.sender(sms_channel).send(outbound(sms_channel))
    assert result.external_id.startswith("SM")
    assert len(result.external_id) == 34
    (entry,) = simulated.sent_log(provider="twilio")
    assert entry["sid"] == result.external_id
    assert (entry["from"], entry["to"], entry["body"]) == (
        "+4570100200",
        "+4520304050",
        "Vi ringer i dag.",
    )
    assert entry["message_id"] == 7
    simulated.clear()


def test_the_simulated_network_has_unreachable_numbers(settings, sms_channel):
    settings.TWILIO_SIMULATED = True
    with pytest.raises(SendError) as raised:
        twilio_messaging.sender(sms_channel).send(outbound(sms_channel, to="+4520000000"))
    assert raised.value.permanent
    assert raised.value.code == "30003"
