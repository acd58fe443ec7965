"""The conference bridge: simulated rooms and participants, the conference webhook (signed,
idempotent, order-independent), the participant requests of both providers, monitoring."""

from __future__ import annotations

import json
import random

import pytest

from crm.events import subscribe, unsubscribe
from telephony.models import CallEvent, ConferenceParticipant, MonitorMode, ParticipantRole
from telephony.providers.simulated import SimulatedVoiceProvider
from telephony.providers.twilio import TwilioVoiceProvider
from telephony.services.conference import conference_name, conference_status_url
from telephony.services.monitoring import MonitorError, call_monitor, call_monitor_stop
from telephony.simulator import DjangoClientTransport, TransportResponse, rest_log
from telephony.simulator.conference import ConferenceSimulator, drive_conference_requests
from telephony.simulator.params import new_sid
from tests.telephony import conference_support, incall_support, test_providers
from tests.telephony.conference_support import bridged_call, send_conference_requests
from tests.telephony.conftest import sign
from tests.telephony.incall_support import answered_call, supervisor
from tests.telephony.test_providers import ACCOUNT, RecordingHttpClient

pytestmark = pytest.mark.django_db
clean_log = incall_support.clean_log
bridge_on = conference_support.bridge_on
twilio_settings = test_providers.twilio_settings
scheduled = conference_support.scheduled


def rows(call):
    return sorted(
        (
            row.role,
            row.call_sid,
            row.agent_id,
            row.user_id,
            row.joined_at,
            row.left_at,
            row.muted,
            row.held,
            row.coaching,
            row.monitor_mode,
        )
        for row in ConferenceParticipant.objects.filter(call=call)
    )


def test_simulated_room_reports_joins_to_the_conference_webhook(
    twilio_post, phone_number, tenant, clean_log
):
    # when the caller and the agent join the call's conference in the simulated Twilio
    bridged = bridged_call(twilio_post, tenant)
    call = bridged.call

    # then the signed callbacks were accepted and each leg has a row with its role
    assert [event for event, _ in bridged.sim.responses] == [
        "conference-start",
        "participant-join",
        "participant-join",
    ]
    caller = ConferenceParticipant.objects.get(call_sid=call.sid)
    agent = ConferenceParticipant.objects.get(call_sid=bridged.agent_leg_sid)
    assert caller.role == ParticipantRole.CALLER
    assert caller.present
    assert agent.role == ParticipantRole.AGENT
    assert agent.agent == bridged.agent
    assert agent.conference_sid == bridged.conference_sid == caller.conference_sid
    assert caller.tenant_id == tenant.pk


def test_caller_leaving_with_end_on_exit_ends_the_conference_for_everyone(
    twilio_post, phone_number, tenant, clean_log
):
    bridged = bridged_call(twilio_post, tenant)
    # when the caller hangs up
    bridged.sim.leave(name=conference_name(bridged.call), call_sid=bridged.call.sid)
    # then every leg has left and the conference ended
    assert [event for event, _ in bridged.sim.responses][-3:] == [
        "participant-leave",
        "participant-leave",
        "conference-end",
    ]
    assert not ConferenceParticipant.objects.filter(call=bridged.call, left_at=None).exists()


class Recorder:
    """A transport that keeps the signed deliveries instead of sending them (to replay)."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, *, method, url, params, headers):
        self.sent.append({"url": url, "params": params, "headers": headers})
        return TransportResponse(status=204, body="")


def test_replayed_and_shuffled_deliveries_give_the_same_rows(
    twilio_post, phone_number, tenant, clean_log, client
):
    # given a whole conference's callbacks, recorded: join, mute, hold, coach, leave, end
    answered = answered_call(twilio_post, tenant)
    call = answered.call
    recorder = Recorder()
    sim = ConferenceSimulator(transport=recorder)
    name = conference_name(call)
    sim.join(
        name=name,
        call_sid=call.sid,
        status_callback=conference_status_url(call),
        label="caller",
        end_on_exit=True,
    )
    agent_leg = new_sid("CA")
    sim.join(name=name, call_sid=agent_leg, label=f"agent-{answered.agent.pk}")
    boss = supervisor(tenant)
    boss_leg = new_sid("CA")
    sim.join(name=name, call_sid=boss_leg, label=f"supervisor-{boss.pk}", muted=True)
    sim.update(name=name, call_sid=call.sid, changes={"hold": True})
    sim.update(name=name, call_sid=call.sid, changes={"hold": False})
    sim.update(
        name=name,
        call_sid=boss_leg,
        changes={"muted": False, "coaching": True, "call_sid_to_coach": agent_leg},
    )
    sim.leave(name=name, call_sid=boss_leg)
    sim.leave(name=name, call_sid=call.sid)
    transport = DjangoClientTransport(client)

    def deliver(order):
        for item in order:
            response = transport.send(method="POST", **item)
            assert response.status == 204, response.body

    # when they arrive in order, then in three shuffled orders with duplicates
    deliver(recorder.sent)
    expected = rows(call)
    for seed in (1, 2, 3):
        ConferenceParticipant.objects.filter(call=call).delete()
        CallEvent.objects.filter(call=call, kind="conference").delete()
        shuffled = recorder.sent * 2
        random.Random(seed).shuffle(shuffled)
        deliver(shuffled)
        # then the rows are the same
        assert rows(call) == expected

    by_sid = {row.call_sid: row for row in ConferenceParticipant.objects.filter(call=call)}
    assert by_sid[boss_leg].user_id == boss.pk
    assert by_sid[boss_leg].coaching is True  # its last state before leaving
    assert by_sid[boss_leg].monitor_mode == MonitorMode.NONE  # left
    assert by_sid[call.sid].held is False
    assert all(row.left_at is not None for row in by_sid.values())
    assert CallEvent.objects.filter(call=call, kind="conference").count() == len(recorder.sent)


def conference_params(call, **extra):
    return {
        "AccountSid": ACCOUNT,
        "ConferenceSid": "CF" + "1" * 32,
        "FriendlyName": conference_name(call),
        "StatusCallbackEvent": "participant-join",
        "SequenceNumber": "0",
        "Timestamp": "Sun, 22 Nov 2026 09:15:02 +0000",
        "CallSid": call.sid,
        "Label": "caller",
        "Muted": "false",
        "Hold": "false",
        **extra,
    }


def test_conference_webhook_refuses_forged_and_bad_requests(
    twilio_post, phone_number, tenant, other_tenant, clean_log, client
):
    answered = answered_call(twilio_post, tenant)
    call = answered.call
    url = f"/hooks/twilio/voice/calls/{call.pk}/conference/"
    # unsigned → 403, nothing stored
    assert client.post(url, conference_params(call)).status_code == 403
    # another call's conference name on this call's URL → 404
    response = twilio_post(url, conference_params(call, FriendlyName="cc-call-999999"))
    assert response.status_code == 404
    # missing SequenceNumber, malformed flags or sids → 400 with the reason
    params = conference_params(call)
    del params["SequenceNumber"]
    response = twilio_post(url, params)
    assert response.status_code == 400
    assert b"SequenceNumber" in response.content
    response = twilio_post(url, conference_params(call, Muted="maybe"))
    assert response.status_code == 400
    assert b"Muted" in response.content
    response = twilio_post(url, conference_params(call, ConferenceSid="CF12"))
    assert response.status_code == 400
    assert b"ConferenceSid" in response.content
    response = twilio_post(url, conference_params(call, CallSid=""))
    assert response.status_code == 400
    assert b"CallSid" in response.content
    assert not ConferenceParticipant.objects.exists()
    # a forged signature → 403
    response = twilio_post(url, conference_params(call), signature=sign("x", {}))
    assert response.status_code == 403
    # the valid one is stored once
    assert twilio_post(url, conference_params(call)).status_code == 204
    assert twilio_post(url, conference_params(call)).status_code == 204
    assert ConferenceParticipant.objects.filter(call=call).count() == 1


def test_conference_webhook_query_count_does_not_grow(
    twilio_post, phone_number, tenant, clean_log, django_assert_max_num_queries
):
    answered = answered_call(twilio_post, tenant)
    call = answered.call
    url = f"/hooks/twilio/voice/calls/{call.pk}/conference/"
    twilio_post(url, conference_params(call))
    for sequence in range(1, 6):
        with django_assert_max_num_queries(12):
            response = twilio_post(
                url,
                conference_params(
                    call,
                    CallSid=new_sid("CA"),
                    Label=f"agent-{answered.agent.pk}",
                    SequenceNumber=str(sequence),
                ),
            )
        assert response.status_code == 204


# --- providers ---------------------------------------------------------------------------------


def test_simulated_participant_requests_are_recorded_and_driven(
    twilio_post, phone_number, tenant, clean_log, client
):
    bridged = bridged_call(twilio_post, tenant, client)
    call = bridged.call
    provider = SimulatedVoiceProvider()
    boss = supervisor(tenant)
    # when the app asks for a muted supervisor leg, then unmutes it, then removes it
    leg = provider.participant_create(
        conference=conference_name(call),
        to=f"client:agent_{boss.pk}",
        from_="+4570100100",
        label=f"supervisor-{boss.pk}",
        status_callback=conference_status_url(call),
        muted=True,
    )
    provider.participant_update(conference_sid=bridged.conference_sid, call_sid=leg, muted=False)
    provider.participant_delete(conference_sid=bridged.conference_sid, call_sid=leg)
    sim = drive_conference_requests(transport=DjangoClientTransport(client))
    # then the simulated room played them and the webhook heard each
    assert [event for event, _ in sim.responses] == [
        "participant-join",
        "participant-unmute",
        "participant-leave",
    ]
    assert [entry["method"] for entry in rest_log.rest_log(call_sid=leg)] == [
        "participant_create",
        "participant_update",
        "participant_delete",
    ]
    row = ConferenceParticipant.objects.get(call_sid=leg)
    assert row.role == ParticipantRole.SUPERVISOR
    assert row.left_at is not None
    assert row.muted is False
    assert row.user == boss


def test_twilio_participant_requests_use_the_conference_participants_resource(twilio_settings):
    http = RecordingHttpClient()
    provider = TwilioVoiceProvider(http_client=http)
    leg = "CA" + "7" * 32
    provider.participant_create(
        conference="cc-call-7",
        to="client:agent_3",
        from_="+4570100100",
        label="supervisor-3",
        status_callback="https://cc.example.com/hooks/twilio/voice/calls/7/conference/",
        muted=False,
        coaching=True,
        call_sid_to_coach=leg,
    )
    provider.participant_update(conference_sid="CF" + "1" * 32, call_sid=leg, hold=True)
    provider.participant_delete(conference_sid="CF" + "1" * 32, call_sid=leg)
    create, update, delete = http.requests
    base = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Conferences"
    assert (create["method"], create["url"]) == ("POST", f"{base}/cc-call-7/Participants.json")
    assert create["data"]["To"] == "client:agent_3"
    assert create["data"]["Label"] == "supervisor-3"
    assert create["data"]["Coaching"] == "true"
    assert create["data"]["CallSidToCoach"] == leg
    assert create["data"]["ConferenceStatusCallback"].endswith("/calls/7/conference/")
    assert (update["method"], update["url"]) == (
        "POST",
        f"{base}/{'CF' + '1' * 32}/Participants/{leg}.json",
    )
    assert update["data"] == {"Hold": "true"}
    assert (delete["method"], delete["url"]) == (
        "DELETE",
        f"{base}/{'CF' + '1' * 32}/Participants/{leg}.json",
    )


# --- monitoring through the service ------------------------------------------------------------


@pytest.fixture
def monitored(request):
    events = []

    def keep(event):
        if event.name == "call.monitored":
            events.append(event)

    subscribe(keep)
    yield events
    unsubscribe(keep)


def test_listen_whisper_barge_and_stop_through_the_simulated_conference(
    twilio_post,
    phone_number,
    tenant,
    clean_log,
    client,
    bridge_on,
    scheduled,
    monitored,
    django_capture_on_commit_callbacks,
):
    bridged = bridged_call(twilio_post, tenant, client)
    call, agent = bridged.call, bridged.agent
    boss = supervisor(tenant)
    transport = DjangoClientTransport(client)

    # when the supervisor listens in
    with django_capture_on_commit_callbacks(execute=True):
        assert call_monitor(call=call, supervisor_user_id=boss.pk, mode="listen") == "started"
    # then nothing went to the provider in the request; the task rings the supervisor muted
    assert rest_log.rest_log() == []
    assert len(scheduled) == 1
    assert send_conference_requests(call) == 1
    assert send_conference_requests(call) == 0  # never twice
    (create,) = rest_log.rest_log()
    assert create["to"] == f"client:agent_{boss.pk}"
    assert create["muted"] is True
    assert create["conference"] == conference_name(call)
    drive_conference_requests(transport=transport)
    leg = ConferenceParticipant.objects.get(role=ParticipantRole.SUPERVISOR)
    assert (leg.user_id, leg.muted, leg.monitor_mode) == (boss.pk, True, "listen")

    # when they switch to whisper, then to barge
    with django_capture_on_commit_callbacks(execute=True):
        assert call_monitor(call=call, supervisor_user_id=boss.pk, mode="whisper") == "switched"
    send_conference_requests(call)
    drive_conference_requests(transport=transport)
    leg.refresh_from_db()
    assert (leg.muted, leg.coaching, leg.monitor_mode) == (False, True, "whisper")
    assert rest_log.rest_log()[-1]["call_sid_to_coach"] == bridged.agent_leg_sid
    with django_capture_on_commit_callbacks(execute=True):
        call_monitor(call=call, supervisor_user_id=boss.pk, mode="barge")
    send_conference_requests(call)
    drive_conference_requests(transport=transport)
    leg.refresh_from_db()
    assert (leg.muted, leg.coaching, leg.monitor_mode) == (False, False, "barge")

    # when they stop
    with django_capture_on_commit_callbacks(execute=True):
        call_monitor_stop(call=call, supervisor_user_id=boss.pk)
    send_conference_requests(call)
    drive_conference_requests(transport=transport)
    leg.refresh_from_db()
    assert leg.left_at is not None
    assert leg.monitor_mode == ""
    # the caller and the agent are still talking
    assert ConferenceParticipant.objects.get(call_sid=call.sid).present
    # each step is logged and published
    assert [e.payload["mode"] for e in CallEvent.objects.filter(call=call, kind="monitor")] == [
        "listen",
        "whisper",
        "barge",
        "barge",
    ]
    assert [(e.payload["mode"], e.payload["started"]) for e in monitored] == [
        ("listen", True),
        ("whisper", True),
        ("barge", True),
        ("barge", False),
    ]
    assert {e.payload["agent_id"] for e in monitored} == {agent.pk}
    assert {e.payload["supervisor_user_id"] for e in monitored} == {boss.pk}
    assert json.loads(json.dumps(monitored[0].payload))["call_id"] == call.pk


def test_monitoring_needs_the_bridge_and_both_parties(
    twilio_post, phone_number, tenant, clean_log, client, settings, scheduled
):
    boss = supervisor(tenant)
    # a call bridged with <Dial> (flag off) cannot be monitored
    answered = answered_call(twilio_post, tenant)
    with pytest.raises(MonitorError, match="not bridged through a conference") as error:
        call_monitor(call=answered.call, supervisor_user_id=boss.pk, mode="listen")
    assert error.value.status == 409
    # nor can a conference call with the flag off, nor one whose agent left
    bridged = bridged_call(twilio_post, tenant, client)
    with pytest.raises(MonitorError):
        call_monitor(call=bridged.call, supervisor_user_id=boss.pk, mode="listen")
    settings.TELEPHONY_CONFERENCE_BRIDGE = True
    bridged.sim.leave(name=conference_name(bridged.call), call_sid=bridged.agent_leg_sid)
    with pytest.raises(MonitorError, match="not bridged"):
        call_monitor(call=bridged.call, supervisor_user_id=boss.pk, mode="listen")
    with pytest.raises(MonitorError, match="not monitoring"):
        call_monitor_stop(call=bridged.call, supervisor_user_id=boss.pk)
    with pytest.raises(MonitorError) as error:
        call_monitor(call=bridged.call, supervisor_user_id=boss.pk, mode="shout")
    assert error.value.status == 400
    assert scheduled == []
    assert not CallEvent.objects.filter(kind="monitor").exists()


def test_a_second_start_while_the_supervisor_leg_rings_is_refused(
    twilio_post, phone_number, tenant, clean_log, client, bridge_on, scheduled
):
    bridged = bridged_call(twilio_post, tenant, client)
    boss = supervisor(tenant)
    call_monitor(call=bridged.call, supervisor_user_id=boss.pk, mode="listen")
    with pytest.raises(MonitorError, match="still connecting"):
        call_monitor(call=bridged.call, supervisor_user_id=boss.pk, mode="barge")
    # once the leg joined, the second press switches instead
    send_conference_requests(bridged.call)
    drive_conference_requests(transport=DjangoClientTransport(client))
    assert call_monitor(call=bridged.call, supervisor_user_id=boss.pk, mode="barge") == "switched"


def test_a_supervisor_label_naming_another_tenants_user_links_no_user(
    twilio_post, phone_number, tenant, other_tenant, clean_log, client
):
    bridged = bridged_call(twilio_post, tenant, client)
    stranger = supervisor(other_tenant)
    leg = new_sid("CA")
    bridged.sim.join(
        name=conference_name(bridged.call), call_sid=leg, label=f"supervisor-{stranger.pk}"
    )
    row = ConferenceParticipant.objects.get(call_sid=leg)
    assert row.role == ParticipantRole.SUPERVISOR
    assert row.user is None
