"""Both voice providers: the real one through the twilio SDK (its HTTP edge recorded, no
network), the simulated one through its durable record of REST requests."""

from __future__ import annotations

import json
import logging
import re

import jwt
import pytest
from twilio.http import HttpClient
from twilio.http.response import Response

from telephony.providers.base import get_voice_provider
from telephony.providers.simulated import SimulatedVoiceProvider, simulator_token_secret
from telephony.providers.twilio import TwilioVoiceProvider, validate_identity
from telephony.simulator import rest_log
from tests.telephony import simulator_support

clean_rest_log = simulator_support.clean_rest_log

ACCOUNT = "AC" + "a" * 32
CALL_SID = "CA" + "b" * 32


class RecordingHttpClient(HttpClient):
    """Stands in for Twilio's servers at the SDK's HTTP edge: records, answers like the API."""

    def __init__(self) -> None:
        super().__init__(logger=logging.getLogger("twilio.http_client"), is_async=False)
        self.requests: list[dict] = []

    def request(self, method, url, params=None, data=None, headers=None, auth=None, **kwargs):
        self.requests.append({"method": method, "url": url, "data": data, "auth": auth})
        body = {"sid": CALL_SID, "account_sid": ACCOUNT, "status": "queued"}
        return Response(
            201 if method == "POST" and url.endswith("Calls.json") else 200, json.dumps(body)
        )


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = "real-auth-token"
    settings.TWILIO_API_KEY_SID = "SK" + "c" * 32
    settings.TWILIO_API_KEY_SECRET = "an-api-key-secret-of-at-least-32-bytes!"
    settings.TWILIO_TWIML_APP_SID = "AP" + "d" * 32
    settings.TWILIO_SIMULATED = False
    return settings


def test_the_provider_follows_the_credentials(settings, twilio_settings):
    assert isinstance(get_voice_provider(), TwilioVoiceProvider)
    settings.TWILIO_SIMULATED = True
    assert isinstance(get_voice_provider(), SimulatedVoiceProvider)


def test_twilio_create_call_posts_to_the_calls_resource(twilio_settings):
    # given the real provider with Twilio's servers recorded at the SDK's HTTP edge
    http = RecordingHttpClient()
    provider = TwilioVoiceProvider(http_client=http)
    # when the app places a call
    sid = provider.create_call(
        to="+4520304050",
        from_="+4570100100",
        url="https://cc.example.com/hooks/twilio/voice/outbound/7/",
        status_callback="https://cc.example.com/hooks/twilio/voice/status/",
        timeout=25,
        machine_detection="Enable",
    )
    # then one authenticated POST to the account's Calls resource carried the call's details
    assert sid == CALL_SID
    [request] = http.requests
    assert request["method"] == "POST"
    assert request["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert request["auth"] == (ACCOUNT, "real-auth-token")
    data = request["data"]
    assert data["To"] == "+4520304050"
    assert data["From"] == "+4570100100"
    assert data["Url"].endswith("/outbound/7/")
    assert data["StatusCallback"].endswith("/hooks/twilio/voice/status/")
    assert data["Timeout"] == 25
    assert data["MachineDetection"] == "Enable"
    assert set(data["StatusCallbackEvent"]) == {"initiated", "ringing", "answered", "completed"}


def test_twilio_update_call_redirects_or_ends_the_live_call(twilio_settings):
    # given the real provider
    http = RecordingHttpClient()
    provider = TwilioVoiceProvider(http_client=http)
    # when the app redirects a caller to an agent, then hangs up another call
    provider.update_call(call_sid=CALL_SID, url="https://cc.example.com/hooks/twilio/voice/ring/")
    provider.update_call(call_sid=CALL_SID, status="completed")
    # then both are POSTs to the call's own resource
    redirect, hangup = http.requests
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL_SID}.json"
    assert (redirect["method"], redirect["url"]) == ("POST", url)
    assert redirect["data"]["Url"] == "https://cc.example.com/hooks/twilio/voice/ring/"
    assert hangup["data"]["Status"] == "completed"
    with pytest.raises(ValueError, match="exactly one"):
        provider.update_call(call_sid=CALL_SID, url="https://x/", status="completed")


def test_twilio_access_token_grants_voice_to_the_identity(twilio_settings):
    # when an agent's browser asks for a token
    token = TwilioVoiceProvider().access_token(identity="agent_42", ttl_seconds=600)
    # then it is signed with the API key secret and allows incoming and outgoing calls
    claims = jwt.decode(token, twilio_settings.TWILIO_API_KEY_SECRET, algorithms=["HS256"])
    header = jwt.get_unverified_header(token)
    assert header["cty"] == "twilio-fpa;v=1"
    assert claims["iss"] == twilio_settings.TWILIO_API_KEY_SID
    assert claims["sub"] == ACCOUNT
    assert claims["grants"]["identity"] == "agent_42"
    voice = claims["grants"]["voice"]
    assert voice["incoming"] == {"allow": True}
    assert voice["outgoing"]["application_sid"] == twilio_settings.TWILIO_TWIML_APP_SID


@pytest.mark.parametrize("identity", ["", "agent 1", "agent-1", "client:agent_1", "a" * 122])
def test_identities_twilio_would_refuse_are_refused(identity):
    with pytest.raises(ValueError, match="identity"):
        validate_identity(identity)


def test_identity_of_121_characters_is_accepted():
    assert validate_identity("a" * 121) == "a" * 121


def test_tokens_live_at_most_a_day(twilio_settings):
    with pytest.raises(ValueError, match="24 h"):
        TwilioVoiceProvider().access_token(identity="agent_1", ttl_seconds=24 * 3600 + 1)


def test_simulated_update_call_is_recorded_durably_for_the_call(clean_rest_log):
    # when the app (e.g. a Celery worker) redirects a simulated call
    SimulatedVoiceProvider().update_call(call_sid=CALL_SID, url="https://cc.example.com/ring/")
    # then the request is in the log and waits for the simulated call to act on it, once
    [logged] = rest_log.rest_log(call_sid=CALL_SID)
    assert logged["method"] == "update_call"
    assert logged["url"] == "https://cc.example.com/ring/"
    assert logged["at"] > 0
    assert rest_log.pop_pending(CALL_SID)["url"] == "https://cc.example.com/ring/"
    assert rest_log.pop_pending(CALL_SID) is None
    assert len(rest_log.rest_log()) == 1  # the log keeps it


def test_simulated_update_call_needs_exactly_one_change(clean_rest_log):
    with pytest.raises(ValueError, match="exactly one"):
        SimulatedVoiceProvider().update_call(call_sid=CALL_SID)
    assert rest_log.rest_log() == []


def test_simulated_create_call_returns_a_fresh_sid_and_queues_the_call(clean_rest_log):
    # when the app places two calls
    provider = SimulatedVoiceProvider()
    first = provider.create_call(
        to="+4520304050", from_="+4570100100", url="https://x/a/", status_callback="https://x/s/"
    )
    second = provider.create_call(
        to="+4520304051", from_="+4570100100", url="https://x/b/", status_callback="https://x/s/"
    )
    # then each has its own Twilio-shaped sid and waits to be driven, in order
    assert re.fullmatch(r"CA[0-9a-f]{32}", first)
    assert first != second
    assert rest_log.pop_outbound()["call_sid"] == first
    assert rest_log.pop_outbound()["to"] == "+4520304051"
    assert rest_log.pop_outbound() is None


def test_simulated_access_token_is_a_real_jwt():
    token = SimulatedVoiceProvider().access_token(identity="agent_9")
    claims = jwt.decode(token, simulator_token_secret(), algorithms=["HS256"])
    assert claims["grants"]["identity"] == "agent_9"
    assert claims["grants"]["voice"]["incoming"] == {"allow": True}
