"""Hold, resume and mute through the API; the simulated provider records the redirects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Presence, Role, TimelineEntry, WorkItem
from telephony.models import Call, CallEvent
from telephony.simulator import (
    CallScript,
    DialOutcome,
    DjangoClientTransport,
    SimulatedCall,
    rest_log,
)
from telephony.tasks import ring_agent
from tests.conftest import member
from tests.telephony import incall_support
from tests.telephony.conftest import CALLER, NUMBER, call_params, new_call_sid
from tests.telephony.incall_support import (
    answered_call,
    api,
    available_agent,
    disposition,
    known_caller,
    redirects,
    run_redirects,
    supervisor,
)

pytestmark = pytest.mark.django_db
clean_log = incall_support.clean_log  # the fixture

BASE = "http://localhost:8000/hooks/twilio/voice"


def test_hold_redirects_the_caller_to_hold_music_and_resume_rings_the_agent_again(
    twilio_post, phone_number, tenant, clean_log, settings
):
    # given a caller talking to an agent
    settings.TELEPHONY_HOLD_MUSIC_URL = "https://cdn.example.com/hold.mp3"
    answered = answered_call(twilio_post, tenant)
    call, agent = answered.call, answered.agent
    client = api(agent.user)

    # when the agent puts the caller on hold
    response = client.post(f"/api/v1/calls/{call.pk}/hold/")

    # then the call is held; once the task runs, the caller's leg goes to the hold URL
    assert response.status_code == 200, response.content
    assert response.json()["on_hold"] is True
    assert redirects(call) == []  # never inside the request
    assert run_redirects(call) == 1
    assert redirects(call) == [{"url": f"{BASE}/calls/{call.pk}/hold/"}]
    hold = twilio_post(f"{BASE}/calls/{call.pk}/hold/", {"CallSid": call.sid}).content.decode()
    assert '<Play loop="0">https://cdn.example.com/hold.mp3</Play>' in hold

    # when the caller has been on hold for 42 s and the agent resumes
    Call.objects.filter(pk=call.pk).update(hold_started_at=timezone.now() - timedelta(seconds=42))
    response = client.post(f"/api/v1/calls/{call.pk}/resume/")

    # then the hold time is counted and the caller is connected to the agent's softphone again
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["on_hold"] is False
    assert body["hold_seconds"] == 42
    run_redirects(call)
    connect_url = f"{BASE}/calls/{call.pk}/connect/{agent.pk}/"
    assert redirects(call)[-1] == {"url": connect_url}
    ring = twilio_post(connect_url, {"CallSid": call.sid}).content.decode()
    assert f">agent_{agent.user_id}</Client>" in ring
    assert f'action="{connect_url}dial/"' in ring
    kinds = list(CallEvent.objects.filter(call=call).values_list("kind", flat=True))
    assert kinds.count("hold") == 1
    assert kinds.count("resume") == 1


def test_an_agent_who_does_not_pick_up_after_hold_sends_the_caller_to_the_queue(
    twilio_post, phone_number, tenant, support_queue, clean_log
):
    # given a held caller whose agent is rung again on resume
    answered = answered_call(twilio_post, tenant)
    call, agent = answered.call, answered.agent
    client = api(agent.user)
    assert client.post(f"/api/v1/calls/{call.pk}/hold/").status_code == 200
    assert client.post(f"/api/v1/calls/{call.pk}/resume/").status_code == 200
    connect_url = f"{BASE}/calls/{call.pk}/connect/{agent.pk}/"

    # when the agent does not answer
    body = twilio_post(
        connect_url + "dial/",
        call_params(call.sid, DialCallStatus="no-answer", DialCallSid=new_call_sid()),
    ).content.decode()

    # then the caller is sent into the queue again with a new work item; the old one is done
    queue_url = f"{BASE}/calls/{call.pk}/transfer/queue/{support_queue.pk}/"
    assert queue_url in body
    first_item = call.work_item
    twilio_post(queue_url, call_params(call.sid))
    call.refresh_from_db()
    first_item.refresh_from_db()
    assert first_item.status == WorkItem.Status.DONE
    assert call.work_item != first_item
    assert call.agent is None
    agent.refresh_from_db()
    assert agent.presence == Presence.AFTER_CALL_WORK


def test_hold_without_music_pauses_and_asks_again(
    twilio_post, phone_number, tenant, clean_log, django_assert_num_queries
):
    answered = answered_call(twilio_post, tenant)
    url = f"{BASE}/calls/{answered.call.pk}/hold/"
    # requested every 30 s for every held caller: one query
    with django_assert_num_queries(1):
        body = twilio_post(url, {"CallSid": answered.call.sid}).content.decode()
    assert '<Pause length="30" />' in body
    assert f'<Redirect method="POST">{url}</Redirect>' in body


def test_holding_twice_or_resuming_a_call_not_on_hold_conflicts(
    twilio_post, phone_number, tenant, clean_log
):
    answered = answered_call(twilio_post, tenant)
    client = api(answered.agent.user)
    assert client.post(f"/api/v1/calls/{answered.call.pk}/resume/").status_code == 409
    assert client.post(f"/api/v1/calls/{answered.call.pk}/hold/").status_code == 200
    second = client.post(f"/api/v1/calls/{answered.call.pk}/hold/")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "already_held"
    assert run_redirects(answered.call) == 1


def test_acting_on_an_ended_call_conflicts(twilio_post, phone_number, tenant, clean_log):
    # given a call that has ended
    answered = answered_call(twilio_post, tenant)
    Call.objects.filter(pk=answered.call.pk).update(status="completed")
    client = api(answered.agent.user)
    # when the agent tries to hold, mute or transfer it
    for path, data in (("hold", {}), ("mute", {}), ("transfer", {"to_number": "+4533445566"})):
        response = client.post(f"/api/v1/calls/{answered.call.pk}/{path}/", data)
        # then 409, and nothing is sent to the provider
        assert response.status_code == 409, path
        assert response.json()["error"]["code"] == "call_ended"
    assert run_redirects(answered.call) == 0


def test_only_the_calls_agent_or_a_supervisor_may_act(
    twilio_post, phone_number, tenant, other_tenant, clean_log
):
    answered = answered_call(twilio_post, tenant)
    url = f"/api/v1/calls/{answered.call.pk}/mute/"
    # another agent of the tenant: 403
    colleague = available_agent(tenant, idle_minutes=1)
    assert api(colleague.user).post(url).status_code == 403
    # someone of another tenant (even a supervisor there): 404, the call does not exist for them
    outsider = member(other_tenant, Role.SUPERVISOR)
    assert api(outsider).post(url).status_code == 404
    # anonymous: refused
    assert api(None).post(url).status_code in (401, 403)
    # a supervisor of the tenant may
    assert api(supervisor(tenant)).post(url).status_code == 200
    assert api(answered.agent.user).post(url, {"muted": False}).status_code == 200
    kinds = list(CallEvent.objects.filter(call=answered.call).values_list("kind", flat=True))
    assert kinds.count("mute") == 1
    assert kinds.count("unmute") == 1
    # mute is the browser's business: nothing for the provider
    assert run_redirects(answered.call) == 0


def _agent_in_call(call: SimulatedCall) -> Call | None:
    row = Call.objects.filter(sid=call.call_sid).select_related("agent").first()
    return row if row is not None and row.answered_at is not None else None


def test_a_call_held_resumed_and_wrapped_up_through_the_simulated_twilio(
    tenant, phone_number, clean_log, settings
):
    """Agent answers, holds, resumes, the caller hangs up, the agent wraps up: the call is on
    the contact's timeline with its disposition."""
    # given a known caller, an available agent and a disposition code
    settings.TELEPHONY_HOLD_MUSIC_URL = "https://cdn.example.com/hold.mp3"
    contact = known_caller(tenant)
    agent = available_agent(tenant)
    disposition(tenant, "resolved", "Resolved")
    client = api(agent.user)
    done: dict[str, float] = {}

    def worker_and_agent(sim: SimulatedCall) -> None:
        """Each moment the simulated call waits: the worker rings agents and sends redirects;
        the agent holds 10 s after answering and resumes 20 s later."""
        row = Call.objects.filter(sid=sim.call_sid).first()
        if row is None or row.work_item_id is None:
            return
        for offer in row.work_item.offers.filter(status="pending"):
            ring_agent(call_id=row.pk, offer_id=offer.pk)
        run_redirects(row)
        now = sim.clock.now()
        if row.answered_at is None:
            return
        done.setdefault("answered", now)
        if "hold" not in done and now >= done["answered"] + 10:
            assert client.post(f"/api/v1/calls/{row.pk}/hold/").status_code == 200
            run_redirects(row)
            done["hold"] = now
        elif "hold" in done and "resume" not in done and now >= done["hold"] + 20:
            assert client.post(f"/api/v1/calls/{row.pk}/resume/").status_code == 200
            run_redirects(row)
            done["resume"] = now

    script = CallScript(
        presses=["1"],
        dial_outcomes=[
            DialOutcome("answered", ring_seconds=3, talk_seconds=600),  # held before the end
            DialOutcome("answered", ring_seconds=2, talk_seconds=40),  # after resume
        ],
        on_wait=worker_and_agent,
    )
    sim = SimulatedCall(transport=DjangoClientTransport(), to=NUMBER, from_=CALLER, script=script)

    # when the call runs to its end
    result = sim.run()

    # then every webhook was accepted, the caller heard hold music between two bridges
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    assert "hold" in done
    assert "resume" in done
    row = Call.objects.get(sid=sim.call_sid)
    assert [s.detail["target"] for s in result.steps_of("dial")] == [
        f"agent_{agent.user_id}",
        f"agent_{agent.user_id}",
    ]
    assert "https://cdn.example.com/hold.mp3" in [s.detail.get("url") for s in result.steps]
    assert [r["url"].rsplit("/calls/", 1)[1] for r in rest_log.rest_log(call_sid=sim.call_sid)][
        -2:
    ] == [f"{row.pk}/hold/", f"{row.pk}/connect/{agent.pk}/"]
    assert result.status == "completed"
    assert row.hold_started_at is None
    assert row.hold_seconds is not None

    # and the work is done and the agent is in after-call work
    assert row.work_item.status == WorkItem.Status.DONE
    agent.refresh_from_db()
    assert agent.presence == Presence.AFTER_CALL_WORK

    # when the agent wraps up with a disposition and a note
    response = client.post(
        f"/api/v1/calls/{row.pk}/wrapup/", {"disposition": "resolved", "note": "Meter read fixed"}
    )

    # then the call carries the disposition, the agent is available, and the contact's timeline
    # shows the wrapped-up call and the note
    assert response.status_code == 200, response.content
    assert response.json()["disposition"] == "resolved"
    agent.refresh_from_db()
    assert agent.presence == Presence.AVAILABLE
    entry = TimelineEntry.objects.get(contact=contact, kind="call.wrapped_up")
    assert entry.ref_id == str(row.pk)
    assert entry.data["disposition"] == "resolved"
    assert "Resolved" in entry.summary
    assert TimelineEntry.objects.filter(contact=contact, kind="note.added").exists()
