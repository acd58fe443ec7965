"""Shared set-up of the in-call tests: a caller answered by an agent, through the real webhooks.

`answered_call()` drives the IVR, queue, ring task and the agent leg's `in-progress` callback;
`api()` is a logged-in REST client; `run_redirects()` runs the redirect tasks the services
scheduled on commit, as a Celery worker would (the simulated provider records each request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import AgentProfile, Offer, Presence, Role
from telephony.incall_tasks import call_redirect
from telephony.models import Call, CallEvent, DispositionCode
from telephony.simulator import rest_log
from telephony.tasks import ring_agent
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, ContactFactory, ContactIdentityFactory
from tests.telephony.conftest import CALLER, call_params, new_call_sid


def available_agent(tenant, *, idle_minutes: int = 5) -> AgentProfile:
    return AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=idle_minutes),
    )


@dataclass
class Answered:
    call: Call
    agent: AgentProfile
    offer: Offer

    @property
    def dial_url(self) -> str:
        return f"/hooks/twilio/voice/calls/{self.call.pk}/dial/{self.offer.pk}/"


def answered_call(twilio_post, tenant, *, agent: AgentProfile | None = None) -> Answered:
    """A caller who pressed 1, was offered to `agent` (or a new available one) and answered."""
    agent = agent or available_agent(tenant)
    call_sid = new_call_sid()
    greeting = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()
    action = re.search(r'<Gather action="([^"]+)"', greeting).group(1)
    twilio_post(action, call_params(call_sid, Digits="1"))
    call = Call.objects.get(sid=call_sid)
    offer = Offer.objects.get(work_item=call.work_item, agent=agent)
    ring_agent(call_id=call.pk, offer_id=offer.pk)
    response = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/dial/{offer.pk}/leg/",
        call_params(
            new_call_sid(),
            ParentCallSid=call_sid,
            CallStatus="in-progress",
            SequenceNumber="1",
            To=f"client:agent_{agent.user_id}",
        ),
    )
    assert response.status_code == 204
    call.refresh_from_db()
    assert call.agent == agent
    assert call.answered_at is not None
    rest_log.clear()  # only what the in-call features ask of the provider from here on
    return Answered(call=call, agent=agent, offer=offer)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def supervisor(tenant):
    return member(tenant, Role.SUPERVISOR)


def known_caller(tenant):
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, value=CALLER)
    return contact


def disposition(tenant, code: str = "resolved", label: str = "Resolved") -> DispositionCode:
    return DispositionCode.objects.create(tenant=tenant, code=code, label=label)


def redirects(call: Call) -> list[dict]:
    """What the app asked the provider to do with the caller's leg, in order."""
    return [
        {key: request[key] for key in ("url", "twiml", "status") if request.get(key)}
        for request in rest_log.rest_log(call_sid=call.sid)
    ]


def run_redirects(call: Call) -> int:
    """Run the redirect tasks the services scheduled, as the Celery worker does after commit
    (the test's transaction never commits, so the tasks are called here directly)."""
    sent = 0
    for event_id in CallEvent.objects.filter(call=call, kind="redirect").values_list(
        "pk", flat=True
    ):
        sent += call_redirect(event_id=event_id)
    return sent


@pytest.fixture
def clean_log():
    rest_log.clear()
    yield
    rest_log.clear()
