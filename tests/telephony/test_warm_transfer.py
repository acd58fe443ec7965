"""Warm transfer through the call's conference: consult, then complete or cancel
(/api/v1/calls/<id>/transfer/ with "warm": true, /transfer/complete/, /transfer/cancel/)."""

from __future__ import annotations

import pytest

from crm.models import Presence, Role
from telephony.models import CallEvent, ConferenceParticipant, ParticipantRole
from telephony.simulator import DjangoClientTransport, rest_log
from telephony.simulator.conference import drive_conference_requests
from tests.conftest import member
from tests.telephony import conference_support, incall_support
from tests.telephony.conference_support import bridged_call, send_conference_requests
from tests.telephony.incall_support import api, available_agent, run_redirects

pytestmark = pytest.mark.django_db
clean_log = incall_support.clean_log
bridge_on = conference_support.bridge_on
scheduled = conference_support.scheduled


def _url(call, tail: str = "") -> str:
    return f"/api/v1/calls/{call.pk}/transfer/{tail}"


def _consulting(twilio_post, tenant, client):
    bridged = bridged_call(twilio_post, tenant, client)
    colleague = available_agent(tenant)
    response = api(bridged.agent.user).post(
        _url(bridged.call), {"to_agent": colleague.pk, "warm": True}, format="json"
    )
    assert response.status_code == 200, response.content
    return bridged, colleague


def _provider_acts(call, client) -> None:
    send_conference_requests(call)
    drive_conference_requests(transport=DjangoClientTransport(client))


def test_warm_transfer_consults_then_hands_the_caller_over(
    twilio_post, phone_number, tenant, clean_log, client, bridge_on, scheduled
):
    # when the agent starts a warm transfer to a colleague
    bridged, colleague = _consulting(twilio_post, tenant, client)
    call, first = bridged.call, bridged.agent
    assert rest_log.rest_log() == []  # nothing sent inside the request
    _provider_acts(call, client)
    # then the caller is held and the colleague rung into the conference
    methods = [
        (entry["method"], entry.get("hold"), entry.get("to")) for entry in rest_log.rest_log()
    ]
    assert methods == [
        ("participant_update", True, None),
        ("participant_create", None, f"client:agent_{colleague.user_id}"),
    ]
    caller = ConferenceParticipant.objects.get(call_sid=call.sid)
    assert caller.held is True
    consult = ConferenceParticipant.objects.get(role=ParticipantRole.CONSULT)
    assert consult.agent == colleague
    assert consult.present

    # when the first agent completes it
    response = api(first.user).post(_url(call, "complete/"))
    assert response.status_code == 200, response.content
    assert response.json()["agent"] == colleague.pk
    _provider_acts(call, client)
    # then the caller is back, talking to the colleague; the first agent's leg left
    caller.refresh_from_db()
    assert caller.held is False
    assert ConferenceParticipant.objects.get(call_sid=bridged.agent_leg_sid).left_at is not None
    first.refresh_from_db()
    assert first.presence == Presence.AFTER_CALL_WORK
    assert run_redirects(call) == 0  # the caller stays in the room
    assert CallEvent.objects.get(call=call, kind="consult").payload["state"] == "completed"

    # when the colleague hangs up later, the caller is moved on and they wrap up
    bridged.sim.leave(name=f"cc-call-{call.pk}", call_sid=consult.call_sid)
    assert run_redirects(call) == 1
    assert rest_log.rest_log(call_sid=call.sid)[-1]["url"].endswith(
        f"/calls/{call.pk}/conference/done/"
    )
    colleague.refresh_from_db()
    assert colleague.presence == Presence.AFTER_CALL_WORK


def test_cancel_takes_the_colleague_out_and_the_caller_off_hold(
    twilio_post, phone_number, tenant, clean_log, client, bridge_on, scheduled
):
    bridged, colleague = _consulting(twilio_post, tenant, client)
    call = bridged.call
    _provider_acts(call, client)
    response = api(bridged.agent.user).post(_url(call, "cancel/"))
    assert response.status_code == 200, response.content
    assert response.json()["agent"] == bridged.agent.pk
    _provider_acts(call, client)
    assert ConferenceParticipant.objects.get(role=ParticipantRole.CONSULT).left_at is not None
    assert ConferenceParticipant.objects.get(call_sid=call.sid).held is False
    assert ConferenceParticipant.objects.get(call_sid=bridged.agent_leg_sid).present
    # nothing left to complete or cancel
    assert api(bridged.agent.user).post(_url(call, "complete/")).status_code == 409
    assert api(bridged.agent.user).post(_url(call, "cancel/")).status_code == 409
    colleague.refresh_from_db()
    assert colleague.presence == Presence.AVAILABLE


def test_refusals(
    twilio_post, phone_number, tenant, other_tenant, clean_log, client, settings, scheduled
):
    bridged = bridged_call(twilio_post, tenant, client)
    call, agent = bridged.call, bridged.agent
    colleague = available_agent(tenant)
    client_api = api(agent.user)
    # the bridge off: 409 with the reason
    response = client_api.post(_url(call), {"to_agent": colleague.pk, "warm": True}, format="json")
    assert response.status_code == 409
    assert "conference" in response.content.decode()
    settings.TELEPHONY_CONFERENCE_BRIDGE = True
    # warm to a queue or number: 400
    response = client_api.post(
        _url(call), {"to_number": "+4520304050", "warm": True}, format="json"
    )
    assert response.status_code == 400
    assert "warm" in response.json().get("errors", response.json()).__str__()
    # nothing to complete yet
    assert client_api.post(_url(call, "complete/")).status_code == 409
    # another tenant's supervisor: 404
    stranger = api(member(other_tenant, Role.SUPERVISOR))
    assert (
        stranger.post(
            _url(call), {"to_agent": colleague.pk, "warm": True}, format="json"
        ).status_code
        == 404
    )
    # completing before the colleague answered: 409
    assert (
        client_api.post(
            _url(call), {"to_agent": colleague.pk, "warm": True}, format="json"
        ).status_code
        == 200
    )
    response = client_api.post(_url(call, "complete/"))
    assert response.status_code == 409
    assert "not answered yet" in response.content.decode()
    # hold / resume belong to the consultation meanwhile: 409
    response = client_api.post(f"/api/v1/calls/{call.pk}/hold/")
    assert response.status_code == 409
    assert "consultation" in response.content.decode()
    # a second consultation while one is open: 409
    other = available_agent(tenant)
    response = client_api.post(_url(call), {"to_agent": other.pk, "warm": True}, format="json")
    assert response.status_code == 409


def test_the_softphone_consults_then_completes(
    twilio_post, phone_number, tenant, clean_log, client, bridge_on, scheduled
):
    from django.test import Client

    bridged = bridged_call(twilio_post, tenant, client)
    call, agent = bridged.call, bridged.agent
    colleague = available_agent(tenant)
    browser = Client()
    browser.force_login(agent.user)
    base = f"/agent/softphone/calls/{call.pk}"
    # the connected panel offers "Consult first" with the bridge on
    panel = browser.get("/agent/softphone/").content.decode()
    assert 'data-testid="sp-consult"' in panel
    # when the agent consults a colleague
    response = browser.post(
        f"{base}/transfer/",
        {"target": "agent", "to_agent": colleague.pk, "warm": "1", "tenant": tenant.pk},
    )
    assert response.status_code == 200, response.content
    html = response.content.decode()
    assert 'data-testid="sp-consulting"' in html
    assert f"{base}/transfer-complete/" in html
    # completing before the colleague joined: 409 with the reason, still consulting
    response = browser.post(f"{base}/transfer-complete/", {"tenant": tenant.pk})
    assert response.status_code == 409
    assert "not answered yet" in response.content.decode()
    _provider_acts(call, client)
    response = browser.post(f"{base}/transfer-complete/", {"tenant": tenant.pk})
    assert response.status_code == 200, response.content
    call.refresh_from_db()
    assert call.agent == colleague


def test_a_held_caller_can_be_consulted_about_and_no_hold_stays_open(
    twilio_post, phone_number, tenant, clean_log, client, bridge_on, scheduled
):
    bridged = bridged_call(twilio_post, tenant, client)
    call, agent = bridged.call, bridged.agent
    colleague = available_agent(tenant)
    agent_api = api(agent.user)
    assert agent_api.post(f"/api/v1/calls/{call.pk}/hold/").status_code == 200
    response = agent_api.post(_url(call), {"to_agent": colleague.pk, "warm": True}, format="json")
    assert response.status_code == 200
    assert response.json()["on_hold"] is False  # the consultation's hold took over
    _provider_acts(call, client)
    assert agent_api.post(_url(call, "cancel/")).status_code == 200
    _provider_acts(call, client)
    call.refresh_from_db()
    assert call.hold_started_at is None
    assert call.hold_seconds is not None
    assert ConferenceParticipant.objects.get(call_sid=call.sid).held is False
