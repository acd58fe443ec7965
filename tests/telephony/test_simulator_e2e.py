"""End to end through the REAL webhooks: a caller rings the hotline, presses 1, waits in the
support queue, the chosen agent's softphone rings (a REST redirect made by the core's ring task
and recorded by the simulated provider), the agent answers, they talk, the call completes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Offer, Presence, WorkItem
from telephony.models import Call, CallOutcome, Voicemail
from telephony.services.calls import queue_name
from telephony.simulator import (
    CallScript,
    DialOutcome,
    DjangoClientTransport,
    RealClock,
    SimulatedCall,
    rest_log,
)
from telephony.tasks import ring_agent
from tests.crm.factories import AgentProfileFactory
from tests.integration import conftest as integration
from tests.telephony import simulator_support
from tests.telephony.conftest import CALLER, NUMBER

clean_rest_log = simulator_support.clean_rest_log
celery_worker = integration.celery_worker  # a real worker on the configured broker


def run_ring_tasks(call: SimulatedCall) -> None:
    """What the Celery worker does meanwhile: ring the agent each pending offer went to.
    (The task itself, called directly; it rings once per offer however often it runs.)"""
    row = Call.objects.filter(sid=call.call_sid).first()
    if row is None or row.work_item_id is None:
        return
    for offer_id in Offer.objects.filter(
        work_item_id=row.work_item_id, status=Offer.Status.PENDING
    ).values_list("pk", flat=True):
        ring_agent(call_id=row.pk, offer_id=offer_id)


@pytest.mark.django_db
def test_an_inbound_call_reaches_an_agent_and_completes(tenant, phone_number, clean_rest_log):
    # given an available agent and the hotline's menu (1 → support queue)
    agent = AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=5),
    )
    script = CallScript(presses=["1"], ring_seconds=4, talk_seconds=95, on_wait=run_ring_tasks)
    call = SimulatedCall(transport=DjangoClientTransport(), to=NUMBER, from_=CALLER, script=script)

    # when the caller rings, presses 1 and waits for the agent
    result = call.run()

    # then every webhook was accepted
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    # and the caller heard the greeting, then was taken out of the queue to the agent
    assert result.heard[0].startswith("Velkommen til Nordlys")
    [redirect] = rest_log.rest_log(call_sid=call.call_sid)
    row = Call.objects.get(sid=call.call_sid)
    offer = Offer.objects.get(work_item=row.work_item)
    assert redirect["method"] == "update_call"
    assert redirect["url"].endswith(f"/calls/{row.pk}/ring/{offer.pk}/")
    queue_exit = [e for e in result.exchanges if "QueueResult" in e.params]
    assert [e.params["QueueResult"] for e in queue_exit] == ["redirected"]
    [dial] = result.steps_of("dial")
    assert dial.detail["target"] == f"agent_{agent.user_id}"
    # and the agent's leg and the Dial action told the app how it went
    legs = result.exchanges_of("child-status")
    assert [e.params["CallStatus"] for e in legs] == ["in-progress", "completed"]
    dial_action = [e for e in result.exchanges if "DialCallStatus" in e.params]
    assert [e.params["DialCallDuration"] for e in dial_action] == ["95"]
    # then the call is answered by that agent, completed, and the work is finished
    assert result.status == "completed"
    assert result.ended_by == "app"  # the Dial action answered <Hangup/>
    offer.refresh_from_db()
    assert offer.status == Offer.Status.ACCEPTED
    assert row.agent == agent
    assert row.outcome == CallOutcome.ANSWERED
    assert row.talk_seconds == 95
    assert row.answered_at is not None
    assert row.abandoned is False
    assert row.status == "completed"
    assert row.work_item.status not in (WorkItem.Status.WAITING, WorkItem.Status.OFFERED)


@pytest.mark.django_db
def test_a_caller_who_gives_up_in_the_queue_is_abandoned(tenant, phone_number, clean_rest_log):
    # given no agent is available
    script = CallScript(presses=["1"], hangup_after=45)
    call = SimulatedCall(transport=DjangoClientTransport(), to=NUMBER, from_=CALLER, script=script)
    # when the caller waits 45 s and hangs up
    result = call.run()
    # then the queue's action heard it and the call is abandoned, its work item cancelled
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    assert [e.params["QueueResult"] for e in result.exchanges if "QueueResult" in e.params] == [
        "hangup"
    ]
    row = Call.objects.get(sid=call.call_sid)
    assert row.abandoned is True
    assert row.outcome == CallOutcome.ABANDONED
    assert row.work_item.status == WorkItem.Status.CANCELLED
    assert rest_log.rest_log(call_sid=call.call_sid) == []


@pytest.mark.django_db
def test_an_agent_who_does_not_answer_is_skipped_for_the_next(
    tenant, phone_number, support_queue, clean_rest_log
):
    # given two available agents; the longest idle one will not answer
    first = AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=9),
    )
    second = AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=2),
    )
    script = CallScript(
        presses=["1"],
        dial_outcomes=[DialOutcome("no-answer"), DialOutcome("answered", 3, 40)],
        on_wait=run_ring_tasks,
    )
    call = SimulatedCall(transport=DjangoClientTransport(), to=NUMBER, from_=CALLER, script=script)
    # when the caller waits while the first agent's softphone rings out
    result = call.run()
    # then the caller went back to the queue and the second agent took the call
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    targets = [step.detail["target"] for step in result.steps_of("dial")]
    assert targets == [f"agent_{first.user_id}", f"agent_{second.user_id}"]
    queue = queue_name(support_queue)
    assert [step.detail["queue"] for step in result.steps_of("enqueue")] == [queue, queue]
    row = Call.objects.get(sid=call.call_sid)
    assert (row.agent, row.outcome, row.talk_seconds) == (second, CallOutcome.ANSWERED, 40)
    statuses = dict(Offer.objects.filter(work_item=row.work_item).values_list("agent", "status"))
    assert statuses[first.pk] != Offer.Status.ACCEPTED
    assert statuses[second.pk] == Offer.Status.ACCEPTED
    assert len(rest_log.rest_log(call_sid=call.call_sid)) == 2


@pytest.mark.django_db
def test_a_voicemail_left_through_the_menu_is_stored_with_its_transcription(
    tenant, phone_number, clean_rest_log
):
    # given the hotline's menu, where 2 leaves a message
    script = CallScript(
        presses=["2"], recording_seconds=12, transcription="Ring mig om min regning."
    )
    call = SimulatedCall(transport=DjangoClientTransport(), to=NUMBER, from_=CALLER, script=script)
    # when the caller presses 2 and speaks for 12 s
    result = call.run()
    # then the recording and its transcription reached the app, and the voicemail is stored
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    assert result.steps_of("record")[0].detail["seconds"] == 12
    voicemail = Voicemail.objects.get(call__sid=call.call_sid)
    assert voicemail.duration_seconds == 12
    assert voicemail.transcription == "Ring mig om min regning."
    assert voicemail.recording_url.endswith(voicemail.recording_sid)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_rings_the_agent_while_the_caller_waits(
    tenant, phone_number, clean_rest_log, celery_worker
):
    # given an available agent, a real Celery worker, and a caller on a (10x) real-time clock
    agent = AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=5),
    )
    script = CallScript(presses=["1"], ring_seconds=2, talk_seconds=30, hangup_after=300)
    call = SimulatedCall(
        transport=DjangoClientTransport(),
        to=NUMBER,
        from_=CALLER,
        script=script,
        clock=RealClock(speed=10),
    )
    # when the caller presses 1: the offer commits, its subscriber queues the ring task, the
    # worker redirects the live call through the simulated provider (Redis) while it waits
    result = call.run()
    # then the caller was bridged to the agent, not left to give up
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    assert [e.params["QueueResult"] for e in result.exchanges if "QueueResult" in e.params] == [
        "redirected"
    ]
    assert result.steps_of("dial")[0].detail["target"] == f"agent_{agent.user_id}"
    assert result.ended_by == "app"
    row = Call.objects.get(sid=call.call_sid)
    assert (row.agent, row.outcome, row.talk_seconds) == (agent, CallOutcome.ANSWERED, 30)
