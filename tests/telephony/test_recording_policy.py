"""Recording by number/queue policy, with an announcement where asked; playback is checked and
logged."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import AuditEntry, Offer, Presence, Role
from telephony.models import Call, PhoneNumber, QueueVoiceSettings, Recording, RecordingPolicy
from telephony.services.outbound import outbound_call_create, outbound_call_place
from telephony.services.prompts import Speech
from telephony.simulator import (
    CallScript,
    DialOutcome,
    DjangoClientTransport,
    SimulatedCall,
    drive_outbound_calls,
    rest_log,
)
from telephony.tasks import ring_agent
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, ContactFactory, ContactIdentityFactory
from tests.telephony.conftest import CALLER, call_params, new_call_sid

pytestmark = pytest.mark.django_db
DANISH = Speech.for_language("da")
NOTICE = DANISH.text("recording_notice")
AUDIO = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "1" * 32


@pytest.fixture
def clean_log():
    rest_log.clear()
    yield
    rest_log.clear()


def ring_twiml(twilio_post, tenant, django_capture_on_commit_callbacks) -> tuple[Call, str]:
    """A caller chooses the queue, an available agent is offered the call: the ring TwiML."""
    AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=5),
    )
    call_sid = new_call_sid()
    greeting = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()
    action = re.search(r'<Gather action="([^"]+)"', greeting).group(1)
    with django_capture_on_commit_callbacks(execute=False):
        twilio_post(action, call_params(call_sid, Digits="1"))
    call = Call.objects.get(sid=call_sid)
    offer = Offer.objects.get(work_item_id=call.work_item_id)
    url = f"/hooks/twilio/voice/calls/{call.pk}/ring/{offer.pk}/"
    return call, twilio_post(url, call_params(call_sid)).content.decode()


def set_policy(phone_number, policy: str) -> None:
    PhoneNumber.objects.filter(pk=phone_number.pk).update(recording_policy=policy)


def test_announce_policy_says_the_notice_then_records_the_bridged_call(
    twilio_post, phone_number, tenant, clean_log, django_capture_on_commit_callbacks
):
    # given a number whose policy is "announce, then record"
    set_policy(phone_number, RecordingPolicy.ANNOUNCE_AND_RECORD)

    # when an agent is rung for a caller
    call, body = ring_twiml(twilio_post, tenant, django_capture_on_commit_callbacks)

    # then the caller hears the notice in Danish before the Dial, which records both parties
    assert body.index(NOTICE) < body.index("<Dial")
    assert 'record="record-from-answer-dual"' in body
    status_url = f"http://localhost:8000/hooks/twilio/voice/calls/{call.pk}/recording/"
    assert f'recordingStatusCallback="{status_url}"' in body


def test_record_policy_records_without_the_notice(
    twilio_post, phone_number, tenant, clean_log, django_capture_on_commit_callbacks
):
    set_policy(phone_number, RecordingPolicy.RECORD)

    _, body = ring_twiml(twilio_post, tenant, django_capture_on_commit_callbacks)

    assert 'record="record-from-answer-dual"' in body
    assert NOTICE not in body


def test_no_policy_no_recording(
    twilio_post, phone_number, tenant, clean_log, django_capture_on_commit_callbacks
):
    _, body = ring_twiml(twilio_post, tenant, django_capture_on_commit_callbacks)

    assert "record=" not in body
    assert NOTICE not in body


def test_the_queue_policy_overrides_the_numbers(
    twilio_post, phone_number, support_queue, tenant, clean_log, django_capture_on_commit_callbacks
):
    # given a number that records, and a queue that does not
    set_policy(phone_number, RecordingPolicy.RECORD)
    QueueVoiceSettings.objects.create(
        tenant=tenant, queue=support_queue, recording_policy=RecordingPolicy.NONE
    )

    _, body = ring_twiml(twilio_post, tenant, django_capture_on_commit_callbacks)

    assert "record=" not in body


def test_a_contact_without_recording_consent_is_never_recorded(
    twilio_post, phone_number, tenant, clean_log, django_capture_on_commit_callbacks
):
    # given the caller is a contact who refused recording
    contact = ContactFactory(tenant=tenant, consent_recording=False)
    ContactIdentityFactory(contact=contact, value=CALLER)
    set_policy(phone_number, RecordingPolicy.ANNOUNCE_AND_RECORD)

    call, body = ring_twiml(twilio_post, tenant, django_capture_on_commit_callbacks)

    assert call.contact == contact
    assert "record=" not in body
    assert NOTICE not in body


def test_the_recording_callback_stores_the_providers_url_and_metadata(
    twilio_post, phone_number, tenant, clean_log, django_capture_on_commit_callbacks
):
    # given a recorded call
    set_policy(phone_number, RecordingPolicy.RECORD)
    call, _ = ring_twiml(twilio_post, tenant, django_capture_on_commit_callbacks)

    # when the provider reports the finished recording (twice: a duplicate delivery)
    params = call_params(
        call.sid,
        RecordingSid="RE" + "1" * 32,
        RecordingUrl=AUDIO,
        RecordingStatus="completed",
        RecordingDuration="42",
        RecordingChannels="2",
        RecordingSource="DialVerb",
    )
    for _ in range(2):
        response = twilio_post(f"/hooks/twilio/voice/calls/{call.pk}/recording/", params)
        assert response.status_code == 204

    # then one row holds the URL and metadata
    recording = Recording.objects.get()
    assert (recording.call, recording.tenant) == (call, tenant)
    assert (recording.recording_url, recording.duration_seconds) == (AUDIO, 42)
    assert (recording.channels, recording.source, recording.status) == (2, "DialVerb", "completed")


# --- playback --------------------------------------------------------------------------------


@pytest.fixture
def recording(tenant):
    call = Call.objects.create(
        tenant=tenant,
        sid=new_call_sid(),
        direction=Call.Direction.INBOUND,
        from_number=CALLER,
        to_number="+4570100100",
    )
    return Recording.objects.create(
        tenant=tenant,
        call=call,
        recording_sid="RE" + "2" * 32,
        recording_url=AUDIO,
        status="completed",
        duration_seconds=42,
    )


def play(user, recording_id: int):
    client = APIClient()
    client.force_login(user)
    return client.get(f"/api/v1/telephony/recordings/{recording_id}/play/")


def test_an_agent_plays_a_recording_and_it_is_logged(tenant, recording):
    agent = member(tenant, Role.AGENT)

    response = play(agent, recording.pk)

    assert response.status_code == 302
    assert response["Location"] == AUDIO + ".mp3"
    entry = AuditEntry.objects.get(object_type="telephony.recording")
    assert (entry.action, entry.actor, entry.tenant) == ("view", agent, tenant)
    assert entry.object_id == str(recording.pk)


def test_a_viewer_may_not_play_recordings(tenant, recording):
    viewer = member(tenant, Role.VIEWER)

    response = play(viewer, recording.pk)

    assert response.status_code == 403
    assert not AuditEntry.objects.filter(object_type="telephony.recording").exists()


def test_another_tenants_recording_is_not_found(recording, other_tenant):
    stranger = member(other_tenant, Role.MANAGER)

    response = play(stranger, recording.pk)

    assert response.status_code == 404
    assert not AuditEntry.objects.filter(object_type="telephony.recording").exists()


def test_anonymous_users_may_not_play(client, recording):
    response = client.get(f"/api/v1/telephony/recordings/{recording.pk}/play/")

    assert response.status_code in (401, 403)


# --- through the simulated Twilio ------------------------------------------------------------


def test_a_recorded_call_through_the_simulator(phone_number, tenant, clean_log):
    # given a number that announces and records, and an available agent
    set_policy(phone_number, RecordingPolicy.ANNOUNCE_AND_RECORD)
    AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=5),
    )

    def worker(sim) -> None:  # what the Celery worker does meanwhile: ring offered agents
        row = Call.objects.filter(sid=sim.call_sid).first()
        if row is None or row.work_item_id is None or row.ringing_offer_id:
            return
        for offer in Offer.objects.filter(work_item_id=row.work_item_id, status="pending"):
            ring_agent(call_id=row.pk, offer_id=offer.pk)

    # when a caller chooses the queue and the agent talks for 45 s
    result = SimulatedCall(
        transport=DjangoClientTransport(),
        to="+4570100100",
        from_=CALLER,
        script=CallScript(
            presses=["1"],
            dial_outcomes=[DialOutcome("answered", ring_seconds=2, talk_seconds=45)],
            on_wait=worker,
        ),
    ).run()

    # then the caller heard the notice, and the provider's recording is stored with the call
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    assert NOTICE in result.heard
    call = Call.objects.get(sid=result.call_sid)
    recording = Recording.objects.get(call=call)
    assert recording.recording_url.startswith("https://api.twilio.com/")
    assert (recording.duration_seconds, recording.channels) == (45, 2)
    assert (recording.status, recording.source) == ("completed", "DialVerb")


def test_an_outbound_call_follows_the_caller_id_numbers_policy(
    phone_number, tenant, clean_log, django_capture_on_commit_callbacks
):
    # given a caller-ID number that records, and an agent calling a number
    PhoneNumber.objects.filter(pk=phone_number.pk).update(
        is_outbound_caller_id=True, recording_policy=RecordingPolicy.RECORD
    )
    agent = AgentProfileFactory(tenant=tenant)
    call = outbound_call_create(tenant=tenant, agent=agent, number="+4520998877")
    outbound_call_place(call_id=call.pk)

    # when the simulated Twilio runs it
    (result,) = drive_outbound_calls(transport=DjangoClientTransport())

    # then the customer Dial was recorded and the recording stored
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    recording = Recording.objects.get()
    assert recording.call_id == call.pk
    assert recording.channels == 2


def test_an_announced_outbound_call_whispers_the_notice_to_the_customer(
    twilio_post, phone_number, tenant, clean_log
):
    # given a caller-ID number that announces and records
    PhoneNumber.objects.filter(pk=phone_number.pk).update(
        is_outbound_caller_id=True, recording_policy=RecordingPolicy.ANNOUNCE_AND_RECORD
    )
    agent = AgentProfileFactory(tenant=tenant)
    call = outbound_call_create(tenant=tenant, agent=agent, number="+4520998877")
    sid = outbound_call_place(call_id=call.pk)

    # when the agent's leg asks what to do
    connect = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/outbound/connect/",
        call_params(sid, Direction="outbound-api"),
    ).content.decode()

    # then the customer's Number carries the notice URL, which says it in Danish
    notice_url = f"http://localhost:8000/hooks/twilio/voice/calls/{call.pk}/outbound/notice/"
    assert f'url="{notice_url}"' in connect
    notice = twilio_post(notice_url, call_params(new_call_sid(), ParentCallSid=sid))
    assert NOTICE in notice.content.decode()
