"""The simulated Twilio against a tiny signature-checking TwiML app: verbs, callbacks, signing."""

from __future__ import annotations

import re
import time

from django.conf import settings
from twilio.request_validator import RequestValidator

from telephony.providers.simulated import SimulatedVoiceProvider
from telephony.simulator import (
    CallScript,
    DialOutcome,
    DjangoClientTransport,
    SimulatedCall,
    signed_request,
    softphone,
)
from tests.telephony import simulator_support

# The shared fixtures (tests/telephony/conftest.py belongs to the telephony core).
twiml_app = simulator_support.twiml_app
clean_rest_log = simulator_support.clean_rest_log

CALLER = "+4520304050"
NUMBER = "+4570100100"


def place_call(app, twiml, script=None, **kwargs):
    app.route("/hooks/twilio/voice/", twiml)
    app.route("/hooks/twilio/voice/status/")
    call = SimulatedCall(
        transport=DjangoClientTransport(),
        to=NUMBER,
        from_=CALLER,
        script=script or CallScript(),
        **kwargs,
    )
    return call, call.run()


def test_an_ivr_press_posts_the_digits_to_the_gather_action(twiml_app):
    # given a greeting with a menu whose action answers the choice
    action = twiml_app.route(
        "/ivr/choice/",
        lambda params: f"<Response><Say>You chose {params['Digits']}.</Say><Hangup/></Response>",
    )
    greeting = (
        f'<Response><Gather numDigits="1" action="{action}">'
        '<Say language="da-DK">Tryk 1 for salg.</Say></Gather></Response>'
    )
    # when a caller rings and presses 1
    _, result = place_call(twiml_app, greeting, CallScript(presses=["1"]))
    # then they heard the menu and the app's answer to their choice
    assert result.heard == ["Tryk 1 for salg.", "You chose 1."]
    assert twiml_app.hits("/ivr/choice/")[0]["Digits"] == "1"
    assert result.status == "completed"
    assert result.ended_by == "app"
    assert twiml_app.rejected == []


def test_the_incoming_webhook_carries_twilios_parameters(twiml_app):
    # when a call rings the app
    call, _ = place_call(twiml_app, "<Response><Say>Hej</Say></Response>")
    # then the request has Twilio's standard parameters
    params = twiml_app.hits("/hooks/twilio/voice/")[0]
    assert re.fullmatch(r"CA[0-9a-f]{32}", params["CallSid"])
    assert params["CallSid"] == call.call_sid
    assert params["AccountSid"] == settings.TWILIO_EFFECTIVE_ACCOUNT_SID
    assert params["From"] == params["Caller"] == CALLER
    assert params["To"] == params["Called"] == NUMBER
    assert params["CallStatus"] == "ringing"
    assert params["Direction"] == "inbound"
    assert params["ApiVersion"] == "2010-04-01"
    assert params["FromCountry"] == params["ToCountry"] == "DK"


def test_an_inbound_call_reports_only_its_end_to_the_numbers_status_callback(twiml_app):
    # when a call is answered, talks for 4 s and is hung up by the app
    _, result = place_call(twiml_app, '<Response><Pause length="4"/><Hangup/></Response>')
    # then, as with a number configured in Twilio's console, only `completed` is reported
    [callback] = twiml_app.hits("/hooks/twilio/voice/status/")
    assert (callback["CallStatus"], callback["SequenceNumber"]) == ("completed", "0")
    assert callback["CallDuration"] == "4"
    assert result.duration == 4


def test_status_callbacks_follow_the_call_with_rising_sequence_numbers(twiml_app):
    # when a call asking for every progress event is answered, talks for 4 s and is hung up
    _, result = place_call(
        twiml_app,
        '<Response><Pause length="4"/><Hangup/></Response>',
        status_events=("initiated", "ringing", "answered", "completed"),
    )
    # then the number's status callback URL heard every progress event, in order
    callbacks = twiml_app.hits("/hooks/twilio/voice/status/")
    assert [c["CallStatus"] for c in callbacks] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [int(c["SequenceNumber"]) for c in callbacks] == [0, 1, 2, 3]
    assert {c["CallbackSource"] for c in callbacks} == {"call-progress-events"}
    assert all(c["Timestamp"].endswith("+0000") for c in callbacks)
    assert callbacks[-1]["CallDuration"] == "4"
    assert result.duration == 4


def test_a_gather_without_input_times_out_and_continues_with_the_next_verb(twiml_app):
    # given a menu that repeats a hint after silence
    twiml = (
        '<Response><Gather timeout="7" action="/ivr/choice/"><Say>Press 1.</Say></Gather>'
        "<Say>We did not get your choice.</Say></Response>"
    )
    # when the caller presses nothing
    _, result = place_call(twiml_app, twiml, CallScript(presses=[]))
    # then the next verb runs after the timeout, and the action is never requested
    assert result.heard == ["Press 1.", "We did not get your choice."]
    assert twiml_app.hits("/ivr/choice/") == []
    gather = result.steps_of("gather")[0]
    assert result.steps_of("say")[1].at - gather.at == 7


def test_a_speech_gather_posts_the_recognised_words(twiml_app):
    # given a menu that accepts speech
    twiml_app.route("/ivr/speech/", "<Response><Hangup/></Response>")
    twiml = '<Response><Gather input="speech dtmf" action="/ivr/speech/"/></Response>'
    # when the caller says "billing"
    place_call(twiml_app, twiml, CallScript(speech=["billing"]))
    # then the action gets the words and a confidence
    params = twiml_app.hits("/ivr/speech/")[0]
    assert params["SpeechResult"] == "billing"
    assert 0 < float(params["Confidence"]) <= 1


def test_say_play_pause_and_redirect_are_followed_in_order(twiml_app):
    # given TwiML that redirects to a second document
    twiml_app.route("/next/", "<Response><Play>https://cdn.example.com/bye.mp3</Play></Response>")
    twiml = '<Response><Say>One</Say><Pause length="3"/><Redirect>/next/</Redirect></Response>'
    # when the call runs
    _, result = place_call(twiml_app, twiml)
    # then the caller heard both documents and the pause took simulated time
    assert result.heard == ["One", "[play https://cdn.example.com/bye.mp3]"]
    assert twiml_app.hits("/next/")
    assert [step.kind for step in result.steps][:4] == ["say", "pause", "redirect", "play"]
    assert result.duration >= 3 + 5  # 3 s pause + 5 s of audio


def test_reject_ends_the_call_busy_without_answering(twiml_app):
    # when the app rejects the call as busy
    _, result = place_call(
        twiml_app,
        '<Response><Reject reason="busy"/></Response>',
        status_events=("initiated", "ringing", "answered", "completed"),
    )
    # then it was never answered and ends busy
    statuses = [c["CallStatus"] for c in twiml_app.hits("/hooks/twilio/voice/status/")]
    assert statuses == ["initiated", "ringing", "busy"]
    assert result.status == "busy"


def test_the_queue_wait_url_is_polled_until_the_caller_hangs_up(twiml_app):
    # given a queue with a wait URL announcing the position, and an action
    twiml_app.route(
        "/queue/wait/",
        lambda p: (
            f"<Response><Say>You are number {p['QueuePosition']}.</Say>"
            "<Play>https://cdn.example.com/music.mp3</Play></Response>"
        ),
    )
    twiml_app.route("/queue/exit/", "<Response/>")
    twiml = (
        '<Response><Enqueue waitUrl="/queue/wait/" action="/queue/exit/">support</Enqueue>'
        "</Response>"
    )
    started = time.monotonic()
    # when the caller gives up after 30 simulated seconds
    _, result = place_call(twiml_app, twiml, CallScript(hangup_after=30))
    # then the wait URL was requested again and again with Twilio's queue parameters
    waits = twiml_app.hits("/queue/wait/")
    assert len(waits) == 5  # every 7 s: 2 s of speech and 5 s of music
    assert [int(w["QueueTime"]) for w in waits] == [0, 7, 14, 21, 28]
    assert {w["CurrentQueueSize"] for w in waits} == {"1"}
    assert "AvgQueueTime" in waits[0]
    assert re.fullmatch(r"QU[0-9a-f]{32}", waits[0]["QueueSid"])
    # and the action heard that the caller hung up
    exit_params = twiml_app.hits("/queue/exit/")[0]
    assert exit_params["QueueResult"] == "hangup"
    assert exit_params["QueueTime"] == "30"
    assert result.ended_by == "caller"
    assert time.monotonic() - started < 5  # simulated time, not 30 real seconds


def test_leave_in_the_wait_twiml_dequeues_to_the_action(twiml_app):
    # given a wait URL that gives up on the queue and an action that sends to voicemail
    twiml_app.route("/queue/wait/", "<Response><Say>Nobody is free.</Say><Leave/></Response>")
    twiml_app.route("/queue/exit/", "<Response><Say>Leave a message.</Say></Response>")
    twiml = '<Response><Enqueue waitUrl="/queue/wait/" action="/queue/exit/">q</Enqueue></Response>'
    # when the call runs
    _, result = place_call(twiml_app, twiml)
    # then the action got QueueResult=leave and its TwiML was followed
    assert twiml_app.hits("/queue/exit/")[0]["QueueResult"] == "leave"
    assert result.heard == ["Nobody is free.", "Leave a message."]


def test_a_key_pressed_while_waiting_is_handled_in_the_queue(twiml_app):
    # given hold TwiML offering a callback on 1, whose action confirms and stays in the queue
    twiml_app.route(
        "/queue/wait/",
        '<Response><Gather numDigits="1" action="/queue/callback/" timeout="1">'
        "<Say>Press 1 to be called back.</Say></Gather></Response>",
    )
    twiml_app.route(
        "/queue/callback/", "<Response><Say>We will call you back.</Say><Leave/></Response>"
    )
    twiml_app.route("/queue/exit/", "<Response/>")
    twiml = '<Response><Enqueue waitUrl="/queue/wait/" action="/queue/exit/">q</Enqueue></Response>'
    # when the caller presses 1 while waiting
    _, result = place_call(twiml_app, twiml, CallScript(presses=["1"]))
    # then the gather action got the digit with the queue's parameters, and its Leave dequeued
    callback = twiml_app.hits("/queue/callback/")[0]
    assert callback["Digits"] == "1"
    assert "QueueSid" in callback
    assert "QueuePosition" in callback
    assert "We will call you back." in result.heard
    assert twiml_app.hits("/queue/exit/")[0]["QueueResult"] == "leave"


def test_a_rest_redirect_takes_the_caller_out_of_the_queue_to_the_agent(twiml_app):
    # given a queued caller, and an agent that a REST request rings after 10 s
    ring = twiml_app.route(
        "/ring/",
        '<Response><Dial timeout="20" action="/dial/done/">'
        '<Client statusCallback="/child/"'
        ' statusCallbackEvent="initiated ringing answered completed">'
        "agent_7</Client></Dial></Response>",
    )
    twiml_app.route("/dial/done/", "<Response><Say>Thanks for calling.</Say></Response>")
    twiml_app.route("/child/")
    twiml_app.route("/queue/wait/", '<Response><Pause length="5"/></Response>')
    twiml_app.route("/queue/exit/", "<Response><Say>Not executed.</Say></Response>")
    twiml = '<Response><Enqueue waitUrl="/queue/wait/" action="/queue/exit/">q</Enqueue></Response>'

    redirected = []

    def agent_found(call):
        if call.clock.now() == 10 and not redirected:
            redirected.append(
                SimulatedVoiceProvider().update_call(call_sid=call.call_sid, url=ring)
            )

    script = CallScript(
        dial_outcomes=[DialOutcome("answered", ring_seconds=4, talk_seconds=20)],
        on_wait=agent_found,
    )
    # when the call runs
    _, result = place_call(twiml_app, twiml, script)
    # then the queue's action heard "redirected", the ring URL was followed, the agent answered
    assert twiml_app.hits("/queue/exit/")[0]["QueueResult"] == "redirected"
    assert twiml_app.hits("/ring/")[0]["CallStatus"] == "in-progress"
    done = twiml_app.hits("/dial/done/")[0]
    assert done["DialCallStatus"] == "completed"
    assert done["DialCallDuration"] == "20"
    assert re.fullmatch(r"CA[0-9a-f]{32}", done["DialCallSid"])
    assert result.heard == ["Thanks for calling."]  # the action's answer was not executed
    # and the agent's leg reported its progress with the caller as parent
    child = twiml_app.hits("/child/")
    assert [c["CallStatus"] for c in child] == ["initiated", "ringing", "in-progress", "completed"]
    assert {c["ParentCallSid"] for c in child} == {result.call_sid}
    assert child[0]["To"] == "client:agent_7"
    assert child[0]["Direction"] == "outbound-dial"
    assert result.steps_of("rest")[0].detail == {"url": ring}
    assert result.steps_of("rest")[0].at == 10


def test_a_rest_hang_up_ends_a_waiting_call(twiml_app):
    # given a call on hold
    twiml = '<Response><Pause length="60"/><Say>Never heard.</Say></Response>'

    def supervisor_ends_it(call):
        if call.clock.now() == 3:
            SimulatedVoiceProvider().update_call(call_sid=call.call_sid, status="completed")

    # when the app ends it through the REST API
    _, result = place_call(twiml_app, twiml, CallScript(on_wait=supervisor_ends_it))
    # then it ends at once
    assert result.ended_by == "rest"
    assert result.duration == 3
    assert result.heard == []


def test_dial_outcomes_reach_the_action(twiml_app):
    # given three dials in a row: no answer, busy, and a conference that is joined
    twiml_app.route(
        "/d2/", '<Response><Dial action="/d3/"><Number>+4540000002</Number></Dial></Response>'
    )
    twiml_app.route(
        "/d3/", '<Response><Dial action="/d4/"><Conference>room-1</Conference></Dial></Response>'
    )
    twiml_app.route("/d4/", "<Response/>")
    twiml = '<Response><Dial timeout="15" action="/d2/">+4540000001</Dial></Response>'
    script = CallScript(
        dial_outcomes=[
            DialOutcome("no-answer"),
            DialOutcome("busy"),
            DialOutcome("answered", ring_seconds=0, talk_seconds=42),
        ]
    )
    # when the call runs
    _, result = place_call(twiml_app, twiml, script)
    # then each action got the matching DialCallStatus
    assert twiml_app.hits("/d2/")[0]["DialCallStatus"] == "no-answer"
    assert twiml_app.hits("/d3/")[0]["DialCallStatus"] == "busy"
    joined = twiml_app.hits("/d4/")[0]
    assert joined["DialCallStatus"] == "completed"
    assert joined["DialCallDuration"] == "42"
    dials = result.steps_of("dial")
    assert [(d.detail["noun"], d.detail["target"]) for d in dials] == [
        ("Number", "+4540000001"),
        ("Number", "+4540000002"),
        ("Conference", "room-1"),
    ]
    assert dials[1].at - dials[0].at == 15  # rang out the whole timeout


def test_a_caller_hanging_up_during_a_bridged_dial_still_reaches_the_action(twiml_app):
    # given an agent who answers after 2 s
    twiml_app.route("/dial/done/", "<Response><Say>Not executed.</Say></Response>")
    twiml = '<Response><Dial action="/dial/done/"><Client>agent_1</Client></Dial></Response>'
    # when the caller hangs up 12 s into the call
    _, result = place_call(
        twiml_app, twiml, CallScript(hangup_after=12, ring_seconds=2, talk_seconds=100)
    )
    # then the action learns how long they talked
    done = twiml_app.hits("/dial/done/")[0]
    assert (done["DialCallStatus"], done["DialCallDuration"]) == ("completed", "10")
    assert result.ended_by == "caller"
    assert result.heard == []


def test_record_posts_the_recording_and_its_transcription(twiml_app):
    # given a voicemail box with callbacks for the recording and its transcription
    twiml_app.route("/vm/done/", "<Response><Say>Thank you.</Say></Response>")
    twiml_app.route("/vm/status/")
    twiml_app.route("/vm/text/")
    twiml = (
        '<Response><Say>Leave a message.</Say><Record maxLength="120" action="/vm/done/"'
        ' recordingStatusCallback="/vm/status/" transcribeCallback="/vm/text/"/></Response>'
    )
    script = CallScript(recording_seconds=14, transcription="Please ring me about my bill.")
    # when the caller speaks for 14 s
    _, result = place_call(twiml_app, twiml, script)
    # then the action, the recording status and the transcription callbacks got the recording
    done = twiml_app.hits("/vm/done/")[0]
    assert done["RecordingDuration"] == "14"
    assert re.fullmatch(r"RE[0-9a-f]{32}", done["RecordingSid"])
    assert done["RecordingUrl"].endswith(done["RecordingSid"])
    status = twiml_app.hits("/vm/status/")[0]
    assert (status["RecordingSid"], status["RecordingStatus"]) == (
        done["RecordingSid"],
        "completed",
    )
    text = twiml_app.hits("/vm/text/")[0]
    assert text["TranscriptionText"] == "Please ring me about my bill."
    assert text["RecordingSid"] == done["RecordingSid"]
    assert result.heard == ["Leave a message.", "Thank you."]
    assert result.steps_of("beep")


def test_a_forged_signature_is_rejected_by_the_validator(twiml_app, settings):
    # given a simulator signing with the wrong auth token
    # when it rings the app
    _, result = place_call(twiml_app, "<Response><Say>Hej</Say></Response>", auth_token="forged")
    # then the app's RequestValidator refuses every request and the caller hears an error
    assert twiml_app.received == []
    assert "/hooks/twilio/voice/" in twiml_app.rejected
    assert result.exchanges_of("webhook")[0].status == 403
    assert result.ended_by == "error"


def test_signed_requests_verify_with_the_sdk_validator_for_post_and_get(settings):
    # given the signature the simulator computes for a POST and a GET
    validator = RequestValidator(settings.TWILIO_WEBHOOK_AUTH_TOKEN)
    params = {"CallSid": "CA" + "1" * 32, "Digits": "1"}
    url = "https://cc.example.com/hooks/twilio/voice/gather/?node=7"
    _, body, headers = signed_request(
        method="POST", url=url, params=params, auth_token=settings.TWILIO_WEBHOOK_AUTH_TOKEN
    )
    get_url, _, get_headers = signed_request(
        method="GET", url=url, params=params, auth_token=settings.TWILIO_WEBHOOK_AUTH_TOKEN
    )
    # then the SDK's validator accepts both, and not a tampered parameter
    assert validator.validate(url, body, headers["X-Twilio-Signature"])
    assert validator.validate(get_url, {}, get_headers["X-Twilio-Signature"])
    assert "Digits=1" in get_url
    assert not validator.validate(url, {**body, "Digits": "2"}, headers["X-Twilio-Signature"])


def test_an_app_error_ends_the_call_with_twilios_apology(twiml_app):
    # given an app without the route the TwiML redirects to
    twiml = "<Response><Redirect>/missing/</Redirect></Response>"
    # when the call follows it
    _, result = place_call(twiml_app, twiml)
    # then the caller hears the application error and the call ends
    assert result.exchanges_of("webhook")[-1].status == 404
    assert "application error" in result.heard[-1]
    assert result.ended_by == "error"
    assert twiml_app.hits("/hooks/twilio/voice/status/")[-1]["CallStatus"] == "completed"


def test_dial_queue_bridges_with_a_waiting_caller(twiml_app):
    # given an agent's leg that dials the support queue
    twiml_app.route("/dequeued/", "<Response/>")
    twiml = '<Response><Dial action="/dequeued/"><Queue>support</Queue></Dial></Response>'
    script = CallScript(dial_outcomes=[DialOutcome("answered", ring_seconds=0, talk_seconds=7)])
    # when the call runs
    _, result = place_call(twiml_app, twiml, script)
    # then the queue was dialled and the conversation reported to the action
    assert result.steps_of("dial")[0].detail["noun"] == "Queue"
    assert twiml_app.hits("/dequeued/")[0]["DialCallDuration"] == "7"


def test_a_rest_update_with_inline_twiml_is_executed(twiml_app):
    # given a caller on hold whom the app sends inline TwiML through the REST API
    def announce(call):
        if call.clock.now() == 2 and not call.result.steps_of("rest"):
            SimulatedVoiceProvider().update_call(
                call_sid=call.call_sid, twiml="<Response><Say>Moving you.</Say></Response>"
            )

    # when the call runs
    _, result = place_call(
        twiml_app, '<Response><Pause length="30"/></Response>', CallScript(on_wait=announce)
    )
    # then the inline TwiML replaced the pause
    assert result.heard == ["Moving you."]
    assert result.duration == 3


def test_a_get_redirect_carries_signed_parameters_in_the_query(twiml_app):
    # given TwiML redirecting with method GET
    twiml_app.route("/by-get/", "<Response><Say>Got it.</Say></Response>")
    twiml = '<Response><Redirect method="GET">/by-get/?step=2</Redirect></Response>'
    # when the call follows it
    _, result = place_call(twiml_app, twiml)
    # then the app received a validly signed GET with Twilio's parameters in the query string
    [received] = [r for r in twiml_app.received if r.path == "/by-get/"]
    assert received.method == "GET"
    assert received.params["step"] == "2"
    assert received.params["CallSid"] == result.call_sid
    assert result.heard == ["Got it."]


def test_a_caller_hanging_up_while_the_agent_rings_cancels_the_dial(twiml_app):
    # given an agent whose phone rings for 20 s
    twiml_app.route("/dial/done/", "<Response/>")
    twiml = '<Response><Dial action="/dial/done/"><Client>agent_1</Client></Dial></Response>'
    script = CallScript(hangup_after=5, dial_outcomes=[DialOutcome("answered", ring_seconds=20)])
    # when the caller hangs up after 5 s
    _, result = place_call(twiml_app, twiml, script)
    # then the action learns the dial was canceled
    done = twiml_app.hits("/dial/done/")[0]
    assert done["DialCallStatus"] == "canceled"
    assert "DialCallDuration" not in done
    assert result.ended_by == "caller"


def test_a_caller_hanging_up_during_the_recording_still_delivers_it(twiml_app):
    # given a voicemail box
    twiml_app.route("/vm/done/", "<Response><Say>Not executed.</Say></Response>")
    twiml = '<Response><Record action="/vm/done/" playBeep="false"/></Response>'
    # when the caller speaks for 6 s and hangs up
    _, result = place_call(twiml_app, twiml, CallScript(hangup_after=6, recording_seconds=60))
    # then the action gets the 6 s recording, marked as ended by hanging up
    done = twiml_app.hits("/vm/done/")[0]
    assert (done["RecordingDuration"], done["Digits"]) == ("6", "hangup")
    assert result.heard == []
    assert result.steps_of("beep") == []


def test_a_browser_softphone_answers_and_hangs_up_a_dialled_client(twiml_app):
    # given an agent in simulator mode: the softphone decides, not the script
    twiml_app.route("/dial/done/", "<Response/>")
    twiml = (
        '<Response><Dial action="/dial/done/" timeout="20"><Client>agent_7</Client></Dial>'
        "</Response>"
    )
    seen = []

    def agent_at_the_browser(call):
        legs = softphone.legs_for("agent_7")
        seen.append((call.clock.now(), [leg["state"] for leg in legs]))
        if legs and call.clock.now() == 4 and legs[0]["state"] == "ringing":
            assert softphone.leg_decide(
                identity="agent_7", leg_sid=legs[0]["leg_sid"], action="accept"
            )
        if legs and call.clock.now() == 30:
            assert softphone.leg_decide(
                identity="agent_7", leg_sid=legs[0]["leg_sid"], action="hangup"
            )

    script = CallScript(agent_in_browser=True, on_wait=agent_at_the_browser)
    # when the call dials the agent, who accepts after 4 s and hangs up at 30 s
    place_call(twiml_app, twiml, script)
    # then the softphone saw the call ringing, then connected, and the Dial reports the talk
    # (buttons are acted on at the next simulated second: bridged at 5, over at 31)
    assert ["ringing"] in [states for _, states in seen]
    assert ["in-progress"] in [states for _, states in seen]
    done = twiml_app.hits("/dial/done/")[0]
    assert (done["DialCallStatus"], done["DialCallDuration"]) == ("completed", "26")
    assert softphone.legs_for("agent_7") == []  # gone from the softphone once over


def test_a_browser_softphone_rejecting_makes_the_dial_busy(twiml_app):
    twiml_app.route("/dial/done/", "<Response/>")
    twiml = '<Response><Dial action="/dial/done/"><Client>agent_8</Client></Dial></Response>'

    def reject(call):
        for leg in softphone.legs_for("agent_8"):
            softphone.leg_decide(identity="agent_8", leg_sid=leg["leg_sid"], action="reject")

    place_call(twiml_app, twiml, CallScript(agent_in_browser=True, on_wait=reject))
    assert twiml_app.hits("/dial/done/")[0]["DialCallStatus"] == "busy"
    assert softphone.legs_for("agent_8") == []
