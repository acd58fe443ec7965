"""Voicemail: the Record verb, its action, recording status and transcription callbacks."""

from __future__ import annotations

import re

import pytest

from crm.models import TimelineEntry
from telephony.models import Call, CallOutcome, Recording, Voicemail
from tests.crm.factories import ContactFactory, ContactIdentityFactory
from tests.telephony.conftest import CALLER, call_params, new_call_sid

pytestmark = pytest.mark.django_db
RECORDING_SID = "RE" + "a" * 32
RECORDING_URL = "https://api.twilio.com/2010-04-01/Accounts/AC5/Recordings/" + RECORDING_SID


def attr(body: str, name: str) -> str:
    return re.search(rf'{name}="([^"]+)"', body).group(1).replace("&amp;", "&")


@pytest.fixture
def recording_call(twilio_post, phone_number, tenant):
    """A known caller who chose 2 (voicemail); returns (CallSid, the Record TwiML)."""
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, value=CALLER)
    call_sid = new_call_sid()
    greeting = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()
    body = twilio_post(attr(greeting, "Gather action"), call_params(call_sid, Digits="2"))
    return call_sid, body.content.decode()


def test_the_voicemail_option_records_with_callbacks(recording_call):
    _, body = recording_call
    assert "Indtal venligst din besked" in body
    assert 'transcribe="true"' in body
    assert "/voicemail/" in attr(body, "Record action")
    assert attr(body, "recordingStatusCallback").endswith("/recording/?kind=voicemail")
    assert "/transcription/" in attr(body, "transcribeCallback")


def test_a_recorded_message_becomes_a_voicemail_on_the_contacts_timeline(
    twilio_post, recording_call
):
    call_sid, body = recording_call
    record = {"RecordingSid": RECORDING_SID, "RecordingUrl": RECORDING_URL}

    # when the Record action, the recording status and the transcription arrive
    thanks = twilio_post(
        attr(body, "Record action"), call_params(call_sid, RecordingDuration="14", **record)
    ).content.decode()
    twilio_post(
        attr(body, "recordingStatusCallback"),
        call_params(call_sid, RecordingStatus="completed", RecordingDuration="14", **record),
    )
    twilio_post(
        attr(body, "transcribeCallback"),
        call_params(
            call_sid,
            TranscriptionText="Ring mig tilbage",
            TranscriptionStatus="completed",
            **record,
        ),
    )

    # then the caller is thanked and one voicemail holds everything
    assert "Tak. Vi har modtaget din besked." in thanks
    voicemail = Voicemail.objects.get()
    call = Call.objects.get(sid=call_sid)
    assert voicemail.call == call
    assert voicemail.contact == call.contact
    assert voicemail.recording_url == RECORDING_URL
    assert voicemail.duration_seconds == 14
    assert voicemail.recording_status == "completed"
    assert voicemail.transcription == "Ring mig tilbage"
    assert call.outcome == CallOutcome.VOICEMAIL
    assert (
        TimelineEntry.objects.filter(kind="voicemail.received", contact=call.contact).count() == 1
    )


def test_callbacks_in_any_order_make_one_voicemail(twilio_post, recording_call):
    call_sid, body = recording_call
    record = {"RecordingSid": RECORDING_SID, "RecordingUrl": RECORDING_URL}
    status = (
        attr(body, "recordingStatusCallback"),
        call_params(call_sid, RecordingStatus="completed", **record),
    )
    action = (attr(body, "Record action"), call_params(call_sid, **record))

    for url, params in [status, action, status, action]:
        assert twilio_post(url, params).status_code in (200, 204)

    assert Voicemail.objects.count() == 1
    assert TimelineEntry.objects.filter(kind="voicemail.received").count() == 1


def test_hanging_up_without_a_message_says_nothing_was_received(twilio_post, recording_call):
    call_sid, body = recording_call
    answer = twilio_post(attr(body, "Record action"), call_params(call_sid)).content.decode()
    assert "Vi modtog ingen besked" in answer
    assert Voicemail.objects.count() == 0


def test_a_call_recording_status_is_stored_once_and_never_goes_back(twilio_post, recording_call):
    call_sid, _ = recording_call
    call = Call.objects.get(sid=call_sid)
    url = f"/hooks/twilio/voice/calls/{call.pk}/recording/"
    record = {"RecordingSid": "RE" + "b" * 32, "RecordingUrl": RECORDING_URL}

    twilio_post(
        url,
        call_params(
            call_sid,
            RecordingStatus="completed",
            RecordingDuration="80",
            RecordingChannels="2",
            **record,
        ),
    )
    twilio_post(url, call_params(call_sid, RecordingStatus="in-progress", **record))
    twilio_post(url, call_params(call_sid, RecordingStatus="completed", **record))

    recording = Recording.objects.get()
    assert (recording.status, recording.duration_seconds, recording.channels) == (
        "completed",
        80,
        2,
    )
    assert recording.call == call
    assert recording.tenant_id == call.tenant_id
