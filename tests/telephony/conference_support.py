"""Shared set-up of the conference-bridge tests: a call whose caller and agent are in the
call's conference, reported through the simulated Twilio's signed conference callbacks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from telephony.models import CallEvent
from telephony.services.conference import conference_name, conference_status_url
from telephony.services.monitoring import conference_request_send
from telephony.simulator import DjangoClientTransport
from telephony.simulator.conference import ConferenceSimulator
from telephony.simulator.params import new_sid
from tests.telephony.incall_support import Answered, answered_call


@dataclass
class Bridged:
    answered: Answered
    agent_leg_sid: str
    conference_sid: str
    sim: ConferenceSimulator

    @property
    def call(self):
        return self.answered.call

    @property
    def agent(self):
        return self.answered.agent


def bridged_call(twilio_post, tenant, client=None) -> Bridged:
    """An answered call whose caller and agent joined `cc-call-<id>` (callbacks delivered)."""
    answered = answered_call(twilio_post, tenant)
    call = answered.call
    sim = ConferenceSimulator(transport=DjangoClientTransport(client))
    conference_sid = sim.join(
        name=conference_name(call),
        call_sid=call.sid,
        status_callback=conference_status_url(call),
        label="caller",
        end_on_exit=True,
    )
    agent_leg_sid = new_sid("CA")
    sim.join(name=conference_name(call), call_sid=agent_leg_sid, label=f"agent-{answered.agent.pk}")
    assert all(response.status == 204 for _event, response in sim.responses), sim.responses
    return Bridged(answered, agent_leg_sid, conference_sid, sim)


def send_conference_requests(call) -> int:
    """Run the participant-request tasks the services scheduled, as the Celery worker would."""
    sent = 0
    for event_id in CallEvent.objects.filter(call=call, kind="conference_request").values_list(
        "pk", flat=True
    ):
        sent += conference_request_send(event_id=event_id)
    return sent


@pytest.fixture
def bridge_on(settings):
    settings.TELEPHONY_CONFERENCE_BRIDGE = True
    return settings


@pytest.fixture
def scheduled(monkeypatch):
    """The conference-request tasks scheduled on commit (not sent to a broker)."""
    from telephony import incall_tasks

    ids: list[int] = []
    monkeypatch.setattr(
        incall_tasks.conference_request, "delay", lambda event_id: ids.append(event_id)
    )
    return ids
