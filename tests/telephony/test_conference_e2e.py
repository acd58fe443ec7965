"""A whole call through the simulated Twilio with the conference bridge on: IVR, queue, the
agent's leg placed and answered, the caller moved into `cc-call-<id>`, the agent hanging up,
the caller moved on to the after-call TwiML — every step through the real, signed webhooks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from crm.models import Presence, WorkItem
from telephony.models import Call, ConferenceParticipant, ParticipantRole
from telephony.simulator import (
    CallScript,
    DjangoClientTransport,
    SimulatedCall,
    rest_log,
    signed_request,
)
from telephony.simulator.conference import ConferenceSimulator, room_state
from tests.crm.factories import AgentProfileFactory
from tests.telephony import simulator_support
from tests.telephony.conftest import CALLER, NUMBER
from tests.telephony.incall_support import run_redirects
from tests.telephony.test_simulator_e2e import run_ring_tasks

TALK = 60
clean_rest_log = simulator_support.clean_rest_log


def _attr(twiml: str, name: str) -> str:
    return re.search(rf'{name}="([^"]+)"', twiml).group(1).replace("&amp;", "&")


@pytest.mark.django_db
def test_a_call_bridged_through_its_conference_end_to_end(
    tenant, phone_number, clean_rest_log, settings_bridge
):
    agent = AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=5),
    )
    transport = DjangoClientTransport()
    rooms = ConferenceSimulator(transport=transport)
    state: dict = {}

    def post(url: str, params: dict) -> str:
        signed_url, body, headers = signed_request(
            method="POST", url=url, params=params, auth_token=settings.TWILIO_WEBHOOK_AUTH_TOKEN
        )
        response = transport.send(method="POST", url=signed_url, params=body, headers=headers)
        assert response.status < 300, (url, response.status, response.body)
        return response.body

    def worker_and_agent(sim: SimulatedCall) -> None:
        """The Celery worker (ring task, redirects) and the agent's browser, meanwhile."""
        run_ring_tasks(sim)
        created = rest_log.pop_outbound()
        if created is not None:  # the agent answers the leg the app placed
            state["leg"] = created
            twiml = post(created["url"], {"CallSid": created["call_sid"], "To": created["to"]})
            state["room"] = re.search(r">(cc-call-\d+)</Conference>", twiml).group(1)
            rooms.join(
                name=state["room"],
                call_sid=created["call_sid"],
                status_callback=_attr(twiml, "statusCallback"),
                label=_attr(twiml, "participantLabel"),
            )
        row = Call.objects.filter(sid=sim.call_sid).first()
        if row is not None:
            run_redirects(row)
        room = room_state(state["room"]) if "room" in state else None
        if room and sim.call_sid in room["participants"]:
            state.setdefault("caller_in", sim.clock.now())
            if sim.clock.now() - state["caller_in"] >= TALK and "agent_left" not in state:
                state["agent_left"] = True  # the agent hangs up
                leg = state["leg"]
                rooms.leave(name=state["room"], call_sid=leg["call_sid"])
                post(
                    leg["status_callback"],
                    {
                        "CallSid": leg["call_sid"],
                        "CallStatus": "completed",
                        "CallDuration": str(TALK),
                        "SequenceNumber": "3",
                    },
                )

    script = CallScript(
        presses=["1"], conference_rooms=True, hangup_after=600, on_wait=worker_and_agent
    )
    sim = SimulatedCall(transport=transport, to=NUMBER, from_=CALLER, script=script)

    result = sim.run()

    # every webhook was accepted; the caller joined the conference and was moved on by the app
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    assert [step.detail["name"] for step in result.steps_of("conference")] == [state["room"]]
    assert result.status == "completed"
    assert result.ended_by == "app"  # the after-call TwiML answered <Hangup/>
    row = Call.objects.get(sid=sim.call_sid)
    assert state["room"] == f"cc-call-{row.pk}"
    # the provider was asked: place the agent's leg, then two redirects of the caller's leg
    methods = [entry["method"] for entry in rest_log.rest_log()]
    assert methods == ["create_call", "update_call", "update_call"]
    # the app's record: answered by the agent, talk from the leg, work done, after-call work
    assert row.agent == agent
    assert row.answered_at is not None
    assert row.talk_seconds == TALK
    assert row.work_item.status == WorkItem.Status.DONE
    agent.refresh_from_db()
    assert agent.presence == Presence.AFTER_CALL_WORK
    legs = {p.role: p for p in ConferenceParticipant.objects.filter(call=row)}
    assert set(legs) == {ParticipantRole.CALLER, ParticipantRole.AGENT}
    assert all(p.joined_at and p.left_at for p in legs.values())


@pytest.fixture
def settings_bridge(settings):
    settings.TELEPHONY_CONFERENCE_BRIDGE = True
    return settings
