"""With TELEPHONY_CONFERENCE_BRIDGE on, an answered call is bridged through `cc-call-<id>`:
the agent's leg is placed first, the caller moves into the conference once it is answered."""

from __future__ import annotations

import re

import pytest

from crm.models import Offer, Presence, WorkItem
from telephony.models import Call, ConferenceParticipant, ParticipantRole
from telephony.services.monitoring import call_monitor
from telephony.simulator import DjangoClientTransport, rest_log
from telephony.simulator.conference import ConferenceSimulator, drive_conference_requests
from telephony.simulator.params import new_sid
from telephony.tasks import ring_agent
from tests.telephony import conference_support, incall_support
from tests.telephony.conference_support import bridged_call, send_conference_requests
from tests.telephony.conftest import call_params, new_call_sid
from tests.telephony.incall_support import api, available_agent, run_redirects, supervisor

pytestmark = pytest.mark.django_db
clean_log = incall_support.clean_log
bridge_on = conference_support.bridge_on
scheduled = conference_support.scheduled


def queued_and_offered(twilio_post, tenant):
    agent = available_agent(tenant)
    call_sid = new_call_sid()
    greeting = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()
    action = re.search(r'<Gather action="([^"]+)"', greeting).group(1)
    twilio_post(action, call_params(call_sid, Digits="1"))
    call = Call.objects.get(sid=call_sid)
    offer = Offer.objects.get(work_item=call.work_item, agent=agent)
    return call, agent, offer


def attr(twiml: str, name: str) -> str:
    return re.search(rf'{name}="([^"]+)"', twiml).group(1).replace("&amp;", "&")


def test_an_answered_call_is_bridged_through_its_conference(
    twilio_post, phone_number, tenant, clean_log, client, bridge_on, scheduled
):
    call, agent, offer = queued_and_offered(twilio_post, tenant)

    # when the ring task runs: the agent's leg is placed, the caller stays in the queue
    assert ring_agent(call_id=call.pk, offer_id=offer.pk) is True
    (create,) = rest_log.rest_log()
    assert create["method"] == "create_call"
    assert create["to"] == f"client:agent_{agent.user_id}"
    assert create["from"] == call.to_number
    assert rest_log.rest_log(call_sid=call.sid) == []

    # when the agent answers, Twilio fetches the leg's URL: the agent joins the conference
    leg_sid = create["call_sid"]
    answer = twilio_post(create["url"], call_params(leg_sid, CallStatus="in-progress"))
    agent_twiml = answer.content.decode()
    assert f">cc-call-{call.pk}</Conference>" in agent_twiml
    assert f'participantLabel="agent-{agent.pk}"' in agent_twiml
    call.refresh_from_db()
    offer.refresh_from_db()
    assert offer.status == Offer.Status.ACCEPTED
    assert call.answered_at is not None
    assert call.agent == agent
    # a repeated fetch moves the caller only once
    twilio_post(create["url"], call_params(leg_sid, CallStatus="in-progress"))
    assert run_redirects(call) == 1
    (redirect,) = rest_log.rest_log(call_sid=call.sid)
    caller_twiml = twilio_post(redirect["url"], call_params(call.sid)).content.decode()
    assert f">cc-call-{call.pk}</Conference>" in caller_twiml
    assert 'endConferenceOnExit="true"' in caller_twiml
    assert 'endConferenceOnExit="false"' in agent_twiml

    # when both legs are in the simulated room (the callbacks the TwiML asked for)
    sim = ConferenceSimulator(transport=DjangoClientTransport(client))
    name = f"cc-call-{call.pk}"
    status_url = attr(caller_twiml, "statusCallback")
    sim.join(
        name=name,
        call_sid=leg_sid,
        status_callback=attr(agent_twiml, "statusCallback"),
        label=attr(agent_twiml, "participantLabel"),
        end_on_exit=False,
    )
    sim.join(
        name=name, call_sid=call.sid, status_callback=status_url, label="caller", end_on_exit=True
    )
    # then the call is bridged: a supervisor may listen in
    roles = set(ConferenceParticipant.objects.filter(call=call).values_list("role", "agent"))
    assert roles == {(ParticipantRole.CALLER, None), (ParticipantRole.AGENT, agent.pk)}
    assert call_monitor(call=call, supervisor_user_id=supervisor(tenant).pk, mode="listen") == (
        "started"
    )

    # when the agent hangs up: the conference ends, the leg reports its duration
    sim.leave(name=name, call_sid=leg_sid)
    response = twilio_post(
        create["status_callback"],
        call_params(leg_sid, CallStatus="completed", CallDuration="42", SequenceNumber="3"),
    )
    assert response.status_code == 204
    # then the caller, alone in the room, is moved on to the after-call TwiML
    assert run_redirects(call) == 1
    done_url = rest_log.rest_log(call_sid=call.sid)[-1]["url"]
    assert done_url == attr(caller_twiml, "action")
    done = twilio_post(done_url, call_params(call.sid))
    assert "<Hangup" in done.content.decode()
    # then talk time is the leg's, the work item is done and the agent is in after-call work
    call.refresh_from_db()
    agent.refresh_from_db()
    assert call.talk_seconds == 42
    assert call.work_item.status == WorkItem.Status.DONE
    assert agent.presence == Presence.AFTER_CALL_WORK


def test_an_unanswered_agent_leg_declines_the_offer_and_leaves_the_caller_queued(
    twilio_post, phone_number, tenant, clean_log, bridge_on
):
    call, _agent, offer = queued_and_offered(twilio_post, tenant)
    ring_agent(call_id=call.pk, offer_id=offer.pk)
    (create,) = rest_log.rest_log()
    # when the agent's leg is not answered
    response = twilio_post(
        create["status_callback"],
        call_params(create["call_sid"], CallStatus="no-answer", SequenceNumber="2"),
    )
    assert response.status_code == 204
    # then the offer is declined and the caller was never moved
    offer.refresh_from_db()
    call.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED
    assert call.ringing_offer_id is None
    assert call.answered_at is None
    assert rest_log.rest_log(call_sid=call.sid) == []
    # a late answer of that leg is hung up
    late = twilio_post(create["url"], call_params(create["call_sid"], CallStatus="in-progress"))
    assert "<Hangup" in late.content.decode()


def test_flag_off_still_rings_with_dial_client(twilio_post, phone_number, tenant, clean_log):
    call, _agent, offer = queued_and_offered(twilio_post, tenant)
    ring_agent(call_id=call.pk, offer_id=offer.pk)
    (redirect,) = rest_log.rest_log()
    assert redirect["method"] == "update_call"
    assert redirect["call_sid"] == call.sid
    assert redirect["url"].endswith(f"/calls/{call.pk}/ring/{offer.pk}/")


def test_the_agent_url_refuses_another_calls_offer(
    twilio_post, phone_number, tenant, clean_log, bridge_on
):
    _call, _first, offer = queued_and_offered(twilio_post, tenant)
    other, _agent, _offer = queued_and_offered(twilio_post, tenant)
    url = f"/hooks/twilio/voice/calls/{other.pk}/conference/agent/{offer.pk}/"
    response = twilio_post(url, call_params(new_sid("CA"), CallStatus="in-progress"))
    assert response.status_code == 404
    offer.refresh_from_db()
    assert offer.status == Offer.Status.PENDING


def test_hold_resume_and_mute_are_participant_updates_when_bridged(
    twilio_post, phone_number, tenant, clean_log, client, bridge_on, scheduled, settings
):
    settings.TELEPHONY_HOLD_MUSIC_URL = "https://cdn.example.com/hold.mp3"
    bridged = bridged_call(twilio_post, tenant, client)
    call, agent = bridged.call, bridged.agent
    transport = DjangoClientTransport(client)
    agent_api = api(agent.user)

    # when the agent holds the caller
    assert agent_api.post(f"/api/v1/calls/{call.pk}/hold/").status_code == 200
    send_conference_requests(call)
    (update,) = rest_log.rest_log()
    assert update["method"] == "participant_update"
    assert (update["call_sid"], update["hold"]) == (call.sid, True)
    assert update["hold_url"] == "https://cdn.example.com/hold.mp3"
    drive_conference_requests(transport=transport)
    # then the caller is held in the room, the agent's leg stays up, nothing was redirected
    assert ConferenceParticipant.objects.get(call_sid=call.sid).held is True
    assert ConferenceParticipant.objects.get(call_sid=bridged.agent_leg_sid).present
    assert run_redirects(call) == 0

    # when they resume and mute
    assert agent_api.post(f"/api/v1/calls/{call.pk}/resume/").status_code == 200
    response = agent_api.post(f"/api/v1/calls/{call.pk}/mute/", {"muted": True}, format="json")
    assert response.status_code == 200
    send_conference_requests(call)
    drive_conference_requests(transport=transport)
    assert ConferenceParticipant.objects.get(call_sid=call.sid).held is False
    assert ConferenceParticipant.objects.get(call_sid=bridged.agent_leg_sid).muted is True
    call.refresh_from_db()
    assert call.hold_seconds is not None
    assert run_redirects(call) == 0
