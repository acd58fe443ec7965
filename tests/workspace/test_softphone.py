"""The softphone panel: its live call fragment (ringing with screen pop, connected, wrap-up)
and its in-call buttons, through real webhooks of the simulated Twilio."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Offer, TimelineEntry
from telephony.models import Call, CallEvent
from tests.crm.factories import AgentProfileFactory, ContactFactory, QueueFactory, TenantFactory
from tests.telephony import conftest as telephony_conftest
from tests.telephony import incall_support
from tests.telephony.conftest import new_call_sid
from tests.telephony.incall_support import (
    answered_call,
    available_agent,
    disposition,
    known_caller,
    redirects,
    run_redirects,
)

pytestmark = pytest.mark.django_db
# The telephony fixtures (signed webhooks, a number with its IVR menu and queue).
clean_log = incall_support.clean_log
twilio_post = telephony_conftest.twilio_post
phone_number = telephony_conftest.phone_number
main_menu = telephony_conftest.main_menu
support_queue = telephony_conftest.support_queue

FRAGMENT = "/agent/softphone/"


def _client(agent) -> Client:
    client = Client()
    client.force_login(agent.user)
    return client


def _act(client: Client, call: Call, action: str, **data: str):
    return client.post(f"/agent/softphone/calls/{call.pk}/{action}/", data)


def test_the_urls_are_the_promised_ones():
    assert reverse("agent-softphone-call") == FRAGMENT
    assert reverse("agent-softphone-action", args=[7, "hold"]) == "/agent/softphone/calls/7/hold/"


def test_the_workspace_loads_the_softphone_panel_and_its_stylesheet(agent_client):
    page = agent_client.get("/agent/").content.decode()
    assert 'id="softphone"' in page
    assert "css/softphone.css" in page
    assert f'hx-get="{FRAGMENT}?tenant=' in page


def test_an_idle_softphone_says_so(agent_client, agent_profile):
    response = agent_client.get(FRAGMENT)
    assert response.status_code == 200
    assert 'data-state="idle"' in response.content.decode()


def test_a_ringing_call_shows_the_caller_and_pops_their_record(
    twilio_post, phone_number, tenant, clean_log
):
    # given a known caller routed to an available agent, whose softphone rings
    contact = known_caller(tenant)
    agent = available_agent(tenant)
    answered = answered_call(twilio_post, tenant, agent=agent)
    call = answered.call
    Call.objects.filter(pk=call.pk).update(answered_at=None, agent=None)
    Offer.objects.filter(pk=answered.offer.pk).update(status=Offer.Status.PENDING)
    Call.objects.filter(pk=call.pk).update(ringing_offer_id=answered.offer.pk)

    # when the panel refreshes
    body = _client(agent).get(FRAGMENT).content.decode()

    # then it rings with the caller's name, number and a screen pop of their record
    assert 'data-state="ringing"' in body
    assert contact.display_name in body
    assert call.from_number in body
    assert f'data-screen-pop="/agent/contacts/{contact.pk}/?tenant={tenant.pk}"' in body
    assert 'data-softphone="accept"' in body


def test_hold_resume_and_mute_from_the_panel(twilio_post, phone_number, tenant, clean_log):
    # given a caller talking to the agent
    answered = answered_call(twilio_post, tenant)
    call, client = answered.call, _client(answered.agent)
    assert 'data-state="connected"' in client.get(FRAGMENT).content.decode()

    # when the agent presses hold
    response = _act(client, call, "hold")

    # then the caller is held (the redirect goes to the provider after commit) and the panel
    # offers resume
    assert response.status_code == 200
    body = response.content.decode()
    assert "On hold" in body
    assert f"/calls/{call.pk}/resume/" in body
    assert run_redirects(call) == 1
    assert redirects(call)[-1]["url"].endswith(f"/calls/{call.pk}/hold/")

    # when they press hold again (a stale page), the reason comes back with a 409
    again = _act(client, call, "hold")
    assert again.status_code == 409
    assert "already on hold" in again.content.decode()

    # when they resume and mute
    assert _act(client, call, "resume").status_code == 200
    assert _act(client, call, "mute").status_code == 200
    assert _act(client, call, "unmute").status_code == 200

    # then the call's history has each of them
    kinds = list(CallEvent.objects.filter(call=call).values_list("kind", flat=True))
    assert [kind for kind in kinds if kind in ("hold", "resume", "mute", "unmute")] == [
        "hold",
        "resume",
        "mute",
        "unmute",
    ]


def test_a_cold_transfer_to_a_number_then_wrap_up_puts_the_call_on_the_timeline(
    twilio_post, phone_number, tenant, clean_log, settings
):
    settings.TELEPHONY_WRAPUP_SECONDS = 60
    # given a known caller talking to the agent
    contact = known_caller(tenant)
    disposition(tenant, code="sale", label="Sale")
    answered = answered_call(twilio_post, tenant)
    call, client = answered.call, _client(answered.agent)

    # when the agent transfers the caller to an external number
    response = _act(client, call, "transfer", target="number", to_number="+4533445566")

    # then the caller is dialled there and the agent's panel asks for the wrap-up
    assert response.status_code == 200, response.content
    body = response.content.decode()
    assert 'data-state="wrapup"' in body
    assert 'value="sale"' in body
    assert 'class="sp-timer"' in body
    assert 'data-limit="60"' in body  # after-call work ends by itself after the setting
    run_redirects(call)
    assert ">+4533445566</Dial>" in redirects(call)[-1]["twiml"]

    # when they set the disposition with a note
    done = _act(client, call, "wrapup", disposition="sale", note="Sold the yearly plan")

    # then the panel is idle, the call carries the disposition and it is on the timeline
    assert done.status_code == 200
    assert 'data-state="idle"' in done.content.decode()
    assert done["HX-Trigger"] == "work-changed"
    call.refresh_from_db()
    assert call.disposition.code == "sale"
    assert TimelineEntry.objects.filter(contact=contact, kind="call.wrapped_up").exists()


def test_transfer_to_an_agent_or_queue_of_the_panel_lists(
    twilio_post, phone_number, tenant, support_queue, clean_log
):
    answered = answered_call(twilio_post, tenant)
    colleague = AgentProfileFactory(tenant=tenant)
    body = _client(answered.agent).get(FRAGMENT).content.decode()
    assert f'<option value="{colleague.pk}">' in body
    assert f'<option value="{support_queue.pk}">' in body

    response = _act(
        _client(answered.agent),
        answered.call,
        "transfer",
        target="agent",
        to_agent=str(colleague.pk),
    )

    assert response.status_code == 200
    run_redirects(answered.call)
    assert redirects(answered.call)[-1]["url"].endswith(
        f"/calls/{answered.call.pk}/connect/{colleague.pk}/"
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"target": "number", "to_number": "12"}, "valid number"),
        ({"target": "agent", "to_agent": "999999"}, "Choose an agent"),
        ({"target": ""}, "Choose whom"),
    ],
)
def test_a_bad_transfer_is_refused_with_the_reason_and_the_call_stays(
    twilio_post, phone_number, tenant, clean_log, data, reason
):
    answered = answered_call(twilio_post, tenant)
    response = _act(_client(answered.agent), answered.call, "transfer", **data)
    assert response.status_code == 400
    body = response.content.decode()
    assert reason in body
    assert 'data-state="connected"' in body
    answered.call.refresh_from_db()
    assert answered.call.agent == answered.agent


def test_an_unknown_disposition_is_refused_and_the_wrapup_stays_open(
    twilio_post, phone_number, tenant, clean_log
):
    answered = answered_call(twilio_post, tenant)
    client = _client(answered.agent)
    _act(client, answered.call, "transfer", target="number", to_number="+4533445566")

    response = _act(client, answered.call, "wrapup", disposition="nonsense")

    assert response.status_code == 400
    assert "Unknown disposition" in response.content.decode()
    assert 'data-state="wrapup"' in response.content.decode()


def test_another_tenants_call_or_someone_elses_call_is_404(
    twilio_post, phone_number, tenant, clean_log
):
    answered = answered_call(twilio_post, tenant)
    colleague = AgentProfileFactory(tenant=tenant)
    stranger = AgentProfileFactory(tenant=TenantFactory())
    assert _act(_client(colleague), answered.call, "hold").status_code == 404
    assert _act(_client(stranger), answered.call, "hold").status_code == 404
    assert _act(_client(answered.agent), answered.call, "dance").status_code == 404
    answered.call.refresh_from_db()
    assert answered.call.hold_started_at is None


def test_a_user_who_is_not_an_agent_gets_no_softphone(client, manager_user):
    client.force_login(manager_user)
    assert client.get(FRAGMENT).status_code == 403


def _finished_calls(tenant, agent, count: int) -> None:
    """`count` earlier calls of the agent, ended and wrapped up, each with its contact."""
    queue = QueueFactory(tenant=tenant)
    for _ in range(count):
        old = Call.objects.create(
            tenant=tenant,
            sid=new_call_sid(),
            direction="inbound",
            from_number="+4520000000",
            to_number="+4570100100",
            status="completed",
            agent=agent,
            queue=queue,
            contact=ContactFactory(tenant=tenant),
        )
        for edge in ("start", "end"):
            CallEvent.objects.create(
                tenant=tenant,
                call=old,
                call_sid=old.sid,
                kind=f"acw_{edge}",
                key=f"acw:{old.pk}:{agent.pk}:{edge}",
                payload={"agent_id": agent.pk},
            )


def _fragment_queries(client: Client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(FRAGMENT)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_the_fragment_costs_the_same_queries_however_many_calls_came_before(
    twilio_post, phone_number, tenant, clean_log
):
    # given an agent on a live call who had 5 earlier calls, then 30
    answered = answered_call(twilio_post, tenant)
    client = _client(answered.agent)
    _finished_calls(tenant, answered.agent, 5)
    few, body = _fragment_queries(client)
    assert 'data-state="connected"' in body
    _finished_calls(tenant, answered.agent, 25)

    # then the connected fragment costs the same number of queries, and few
    many, body = _fragment_queries(client)
    assert 'data-state="connected"' in body
    assert many == few, f"{few} queries with 5 earlier calls, {many} with 30"
    assert few <= 12


def test_the_wrapup_fragment_costs_the_same_queries_however_many_calls_came_before(
    twilio_post, phone_number, tenant, clean_log
):
    # given an agent in wrap-up after a transfer, with 5 earlier wrapped-up calls, then 30
    answered = answered_call(twilio_post, tenant)
    client = _client(answered.agent)
    _act(client, answered.call, "transfer", target="number", to_number="+4533445566")
    _finished_calls(tenant, answered.agent, 5)
    few, body = _fragment_queries(client)
    assert f'data-call="{answered.call.pk}"' in body
    _finished_calls(tenant, answered.agent, 25)

    many, body = _fragment_queries(client)
    assert 'data-state="wrapup"' in body
    assert f'data-call="{answered.call.pk}"' in body
    assert many == few, f"{few} queries with 5 earlier calls, {many} with 30"
