"""Cold transfers through the API: to an external number, a queue, another agent."""

from __future__ import annotations

import re

import pytest

from crm.models import ChannelKind, Offer, Presence, WorkItem
from crm.services.routing import agent_route
from telephony.models import Call, CallEvent, CallOutcome
from tests.crm.factories import QueueFactory
from tests.telephony import incall_support
from tests.telephony.conftest import NUMBER, call_params, new_call_sid
from tests.telephony.incall_support import (
    answered_call,
    api,
    available_agent,
    redirects,
    run_redirects,
)

pytestmark = pytest.mark.django_db
clean_log = incall_support.clean_log  # the fixture

BASE = "http://localhost:8000/hooks/twilio/voice"


def test_a_transfer_to_a_number_dials_it_with_the_tenants_caller_id(
    twilio_post, phone_number, tenant, clean_log, settings
):
    # given a caller talking to an agent
    settings.TELEPHONY_WRAPUP_SECONDS = 60
    answered = answered_call(twilio_post, tenant)
    call, agent = answered.call, answered.agent

    # when the agent transfers the caller to an outside number
    response = api(agent.user).post(
        f"/api/v1/calls/{call.pk}/transfer/", {"to_number": "+45 33 44 55 66"}
    )

    # then the caller's leg dials that number showing the tenant's number
    assert response.status_code == 200, response.content
    run_redirects(call)
    [redirect] = redirects(call)
    assert f'<Dial callerId="{NUMBER}">+4533445566</Dial>' in redirect["twiml"]
    call.refresh_from_db()
    assert call.outcome == CallOutcome.FORWARDED
    assert call.agent is None
    # and the agent's part is over: their work item is done and after-call work starts
    assert call.work_item.status == WorkItem.Status.DONE
    agent.refresh_from_db()
    assert agent.presence == Presence.AFTER_CALL_WORK
    [event] = CallEvent.objects.filter(call=call, kind="transfer")
    assert event.payload["kind"] == "number"
    assert event.payload["to_number"] == "+4533445566"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"to_number": "12"},
        {"to_number": "+4533445566", "to_queue": 1},
        {"to_agent": 999999},
        {"to_queue": 999999},
    ],
    ids=["nothing", "bad-number", "two-targets", "unknown-agent", "unknown-queue"],
)
def test_a_bad_transfer_target_is_refused(twilio_post, phone_number, tenant, clean_log, data):
    answered = answered_call(twilio_post, tenant)
    response = api(answered.agent.user).post(
        f"/api/v1/calls/{answered.call.pk}/transfer/", data, format="json"
    )
    assert response.status_code == 400, response.content
    assert run_redirects(answered.call) == 0
    answered.call.refresh_from_db()
    assert answered.call.agent == answered.agent


def test_an_agent_of_another_tenant_is_unknown(
    twilio_post, phone_number, tenant, other_tenant, clean_log
):
    answered = answered_call(twilio_post, tenant)
    stranger = available_agent(other_tenant)
    response = api(answered.agent.user).post(
        f"/api/v1/calls/{answered.call.pk}/transfer/", {"to_agent": stranger.pk}
    )
    assert response.status_code == 400
    assert "to_agent" in response.json()["error"]["fields"]


def test_a_transfer_to_a_queue_gives_the_caller_a_new_place_there(
    twilio_post, phone_number, tenant, clean_log
):
    # given a caller talking to an agent, and a billing queue
    answered = answered_call(twilio_post, tenant)
    call = answered.call
    first_queued_at = call.queued_at
    billing = QueueFactory(tenant=tenant, name="Billing", channel_kinds=[ChannelKind.VOICE])

    # when the agent transfers the caller to billing
    response = api(answered.agent.user).post(
        f"/api/v1/calls/{call.pk}/transfer/", {"to_queue": billing.pk}
    )
    assert response.status_code == 200, response.content
    run_redirects(call)

    # then the caller is redirected to the transfer-queue URL, which enqueues them there
    queue_url = f"{BASE}/calls/{call.pk}/transfer/queue/{billing.pk}/"
    assert redirects(call) == [{"url": queue_url}]
    body = twilio_post(queue_url, call_params(call.sid)).content.decode()
    assert f">cc-{billing.pk}</Enqueue>" in body
    call.refresh_from_db()
    item = call.work_item
    assert item.queue == billing
    assert item.status == WorkItem.Status.WAITING  # the only agent is in after-call work
    assert item.priority == 1  # ahead of new callers of the same priority
    assert call.queue == billing
    assert call.queued_at == first_queued_at  # wait metrics stay about the first wait
    # and a repeated request creates no second item
    twilio_post(queue_url, call_params(call.sid))
    assert WorkItem.objects.filter(ref_id=str(call.pk)).count() == 2

    # when a billing agent becomes available, the call is offered and rung there
    colleague = available_agent(tenant, idle_minutes=1)
    agent_route(agent=colleague)
    offer = Offer.objects.get(work_item=item, status=Offer.Status.PENDING)
    assert offer.agent == colleague


def test_a_transfer_to_an_agent_rings_them_and_they_get_the_call(
    twilio_post, phone_number, tenant, clean_log
):
    # given a caller talking to one agent, and a colleague
    answered = answered_call(twilio_post, tenant)
    call = answered.call
    colleague = available_agent(tenant, idle_minutes=1)

    # when the agent transfers the caller to the colleague
    response = api(answered.agent.user).post(
        f"/api/v1/calls/{call.pk}/transfer/", {"to_agent": colleague.pk}
    )
    assert response.status_code == 200, response.content
    run_redirects(call)

    # then the caller is redirected to ring the colleague's softphone
    connect_url = f"{BASE}/calls/{call.pk}/connect/{colleague.pk}/"
    assert redirects(call) == [{"url": connect_url}]
    ring = twilio_post(connect_url, call_params(call.sid)).content.decode()
    assert f">agent_{colleague.user_id}</Client>" in ring

    # when the colleague answers
    leg = new_call_sid()
    response = twilio_post(
        connect_url + "leg/",
        call_params(leg, ParentCallSid=call.sid, CallStatus="in-progress", SequenceNumber="1"),
    )
    assert response.status_code == 204

    # then the call is theirs: they may hold it; the first agent may not any more
    call.refresh_from_db()
    assert call.agent == colleague
    assert api(answered.agent.user).post(f"/api/v1/calls/{call.pk}/hold/").status_code == 403
    assert api(colleague.user).post(f"/api/v1/calls/{call.pk}/mute/").status_code == 200

    # when the colleague hangs up, their Dial action ends the call and starts their wrap-up
    body = twilio_post(
        connect_url + "dial/",
        call_params(call.sid, DialCallStatus="completed", DialCallSid=leg, DialCallDuration="30"),
    ).content.decode()
    assert "<Hangup />" in body
    colleague.refresh_from_db()
    assert colleague.presence == Presence.AFTER_CALL_WORK
    assert CallEvent.objects.filter(key=f"acw:{call.pk}:{colleague.pk}:start").exists()


def test_an_unanswered_transfer_puts_the_caller_in_the_calls_queue(
    twilio_post, phone_number, tenant, support_queue, clean_log
):
    # given a caller being transferred to a colleague who does not answer
    answered = answered_call(twilio_post, tenant)
    call = answered.call
    colleague = available_agent(tenant, idle_minutes=1)
    api(answered.agent.user).post(f"/api/v1/calls/{call.pk}/transfer/", {"to_agent": colleague.pk})
    connect_url = f"{BASE}/calls/{call.pk}/connect/{colleague.pk}/"

    # when the ring times out
    body = twilio_post(
        connect_url + "dial/",
        call_params(call.sid, DialCallStatus="no-answer", DialCallSid=new_call_sid()),
    ).content.decode()

    # then the caller goes back into the support queue rather than into silence
    queue_url = f"{BASE}/calls/{call.pk}/transfer/queue/{support_queue.pk}/"
    assert re.search(rf"<Redirect[^>]*>{re.escape(queue_url)}</Redirect>", body)
    twilio_post(queue_url, call_params(call.sid))
    call.refresh_from_db()
    assert call.work_item.queue == support_queue
    assert call.work_item.status in (WorkItem.Status.WAITING, WorkItem.Status.OFFERED)


def test_a_held_call_can_be_transferred_and_its_hold_time_is_kept(
    twilio_post, phone_number, tenant, clean_log
):
    answered = answered_call(twilio_post, tenant)
    client = api(answered.agent.user)
    assert client.post(f"/api/v1/calls/{answered.call.pk}/hold/").status_code == 200
    response = client.post(
        f"/api/v1/calls/{answered.call.pk}/transfer/", {"to_number": "+4533445566"}
    )
    assert response.status_code == 200
    assert response.json()["on_hold"] is False
    assert Call.objects.get(pk=answered.call.pk).hold_seconds is not None
