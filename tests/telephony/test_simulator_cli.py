"""`simulate_call` over real HTTP, and outbound calls created through the simulated provider."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from telephony.providers.simulated import SimulatedVoiceProvider
from telephony.simulator import CallScript, DjangoClientTransport, drive_outbound_calls
from tests.telephony import simulator_support

twiml_app = simulator_support.twiml_app
clean_rest_log = simulator_support.clean_rest_log

MENU = (
    '<Response><Gather numDigits="1" action="/ivr/choice/"><Say>Press 1 for sales.</Say>'
    "</Gather></Response>"
)


def test_simulate_call_drives_a_running_server_and_prints_the_transcript(twiml_app, live_server):
    # given a server answering with a menu
    twiml_app.route("/hooks/twilio/voice/", MENU)
    twiml_app.route("/hooks/twilio/voice/status/")
    twiml_app.route("/ivr/choice/", "<Response><Say>Sales, one moment.</Say></Response>")
    out = StringIO()
    # when the command calls it over HTTP, pressing 1
    call_command(
        "simulate_call",
        "--to=+4570100100",
        "--from=+4520304050",
        "--press=1",
        f"--base-url={live_server.url}",
        "--simulated-time",
        stdout=out,
    )
    # then the transcript shows what the caller heard and each webhook's status code
    text = out.getvalue()
    assert "Press 1 for sales." in text
    assert "Sales, one moment." in text
    assert (
        "POST https://cc.example.com/ivr/choice/ -> 200 [webhook] CallStatus=in-progress Digits=1"
        in text
    )
    assert "Call completed" in text
    assert twiml_app.hits("/ivr/choice/")[0]["Digits"] == "1"  # signed for the public URL


def test_simulate_call_fails_loudly_when_webhooks_fail(twiml_app, live_server):
    # given a server that does not know the called number's webhook
    out = StringIO()
    # when the command calls it
    with pytest.raises(CommandError, match="did not answer 2xx"):
        call_command(
            "simulate_call",
            "--to=+4570100100",
            "--from=+4520304050",
            f"--base-url={live_server.url}",
            "--simulated-time",
            stdout=out,
        )
    # then the failing request is in the transcript
    assert "/hooks/twilio/voice/ -> 404" in out.getvalue()


def test_simulate_call_reports_an_unreachable_server():
    with pytest.raises(CommandError, match="Cannot reach"):
        call_command(
            "simulate_call",
            "--to=+4570100100",
            "--from=+4520304050",
            "--base-url=http://127.0.0.1:9",
            "--simulated-time",
            stdout=StringIO(),
        )


def test_created_calls_are_driven_as_outbound_calls(twiml_app):
    # given the app placed a click-to-call through the simulated provider
    status = twiml_app.route("/outbound/status/")
    url = twiml_app.route("/outbound/7/", "<Response><Say>Connecting you.</Say></Response>")
    sid = SimulatedVoiceProvider().create_call(
        to="+4520304050", from_="+4570100100", url=url, status_callback=status
    )
    # when the simulated Twilio runs the calls waiting to be placed
    [result] = drive_outbound_calls(transport=DjangoClientTransport())
    # then the callee answered, the TwiML URL was fetched as an outbound-api call
    assert result.call_sid == sid
    fetched = twiml_app.hits("/outbound/7/")[0]
    assert (fetched["Direction"], fetched["CallStatus"]) == ("outbound-api", "in-progress")
    assert result.heard == ["Connecting you."]
    # and the call's own status callback saw it all, not the number's console URL
    statuses = [p["CallStatus"] for p in twiml_app.hits("/outbound/status/")]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert twiml_app.hits("/hooks/twilio/voice/status/") == []
    assert drive_outbound_calls(transport=DjangoClientTransport()) == []


def test_an_outbound_call_can_be_busy_and_answered_by_a_machine(twiml_app):
    # given two calls: one to a busy line, one with answering-machine detection
    status = twiml_app.route("/outbound/status/")
    url = twiml_app.route("/outbound/7/", "<Response><Hangup/></Response>")
    provider = SimulatedVoiceProvider()
    busy = provider.create_call(to="+4511", from_="+4570100100", url=url, status_callback=status)
    provider.create_call(
        to="+4522", from_="+4570100100", url=url, status_callback=status, machine_detection="Enable"
    )

    def script_for(request):
        if request["call_sid"] == busy:
            return CallScript(answer="busy")
        return CallScript(answered_by="machine_end_beep")

    # when they are driven
    first, second = drive_outbound_calls(transport=DjangoClientTransport(), script_for=script_for)
    # then the busy one never fetched TwiML and the other carried AnsweredBy
    assert first.status == "busy"
    assert [p["CallStatus"] for p in twiml_app.hits("/outbound/status/")][:3] == [
        "initiated",
        "ringing",
        "busy",
    ]
    [fetched] = twiml_app.hits("/outbound/7/")
    assert fetched["AnsweredBy"] == "machine_end_beep"
    assert second.status == "completed"
