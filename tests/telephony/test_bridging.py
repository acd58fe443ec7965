"""From the queue to the agent's softphone: ringing, answering, no answer, hanging up."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone

from contactcenter.celery import app as celery_app
from crm.models import Offer, Presence, WorkItem
from telephony.models import Call, CallOutcome
from telephony.simulator import rest_log
from telephony.tasks import ring_agent
from tests.crm.factories import AgentProfileFactory
from tests.telephony.conftest import call_params, new_call_sid

pytestmark = pytest.mark.django_db


def available_agent(tenant, idle_minutes: int):
    return AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=idle_minutes),
    )


@pytest.fixture
def clean_log():
    rest_log.clear()
    yield
    rest_log.clear()


@pytest.fixture
def eager_tasks():
    """Celery runs tasks in-process for this test, so the offer's ring task acts at once."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def enter_queue(twilio_post, call_sid: str) -> str:
    greeting = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()
    action = re.search(r'<Gather action="([^"]+)"', greeting).group(1)
    return twilio_post(action, call_params(call_sid, Digits="1")).content.decode()


def test_an_offered_call_rings_the_chosen_agents_softphone(
    twilio_post, phone_number, tenant, clean_log, eager_tasks, django_capture_on_commit_callbacks
):
    # given an available agent
    agent = available_agent(tenant, idle_minutes=5)
    call_sid = new_call_sid()

    # when the caller chooses the queue (routing offers the call; the offer commits)
    with django_capture_on_commit_callbacks(execute=True):
        enter_queue(twilio_post, call_sid)

    # then the provider was asked to redirect exactly that caller to the ring URL
    call = Call.objects.get(sid=call_sid)
    offer = Offer.objects.get(work_item=call.work_item)
    assert offer.agent == agent
    requests = rest_log.rest_log(call_sid=call_sid)
    ring_url = f"http://localhost:8000/hooks/twilio/voice/calls/{call.pk}/ring/{offer.pk}/"
    assert [(r["method"], r["url"]) for r in requests] == [("update_call", ring_url)]
    assert call.ringing_offer_id == offer.pk
    assert call.agent == agent
    assert call.offered_at == offer.offered_at

    # and the ring URL dials that agent's browser identity
    body = twilio_post(ring_url, call_params(call_sid)).content.decode()
    assert "<Client statusCallback=" in body
    assert f">agent_{agent.user_id}</Client>" in body
    assert (
        f'action="http://localhost:8000/hooks/twilio/voice/calls/{call.pk}/dial/{offer.pk}/"'
        in body
    )
    assert 'timeout="15"' in body


def test_the_ring_task_rings_once_however_often_it_runs(
    twilio_post, phone_number, tenant, clean_log
):
    # given a call offered to an agent (the task has not run)
    available_agent(tenant, idle_minutes=5)
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    offer = Offer.objects.get(work_item=call.work_item)

    # when the task is delivered twice
    assert ring_agent(call_id=call.pk, offer_id=offer.pk) is True
    assert ring_agent(call_id=call.pk, offer_id=offer.pk) is False

    # then the caller was redirected once
    assert len(rest_log.rest_log(call_sid=call_sid)) == 1


def test_the_agent_answering_accepts_the_offer_and_the_end_finishes_the_work(
    twilio_post, phone_number, tenant, clean_log
):
    # given a caller whose offered agent's softphone is ringing
    agent = available_agent(tenant, idle_minutes=5)
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    offer = Offer.objects.get(work_item=call.work_item)
    ring_agent(call_id=call.pk, offer_id=offer.pk)
    base = f"/hooks/twilio/voice/calls/{call.pk}/dial/{offer.pk}/"
    answered_at = timezone.now().replace(microsecond=0) + timedelta(seconds=4)

    # when the agent answers (the agent leg's status callback)
    leg = new_call_sid()
    response = twilio_post(
        base + "leg/",
        call_params(
            leg,
            ParentCallSid=call_sid,
            CallStatus="in-progress",
            SequenceNumber="1",
            Timestamp=format_datetime(answered_at),
            To=f"client:agent_{agent.user_id}",
        ),
    )

    # then the offer is accepted and the call is answered by that agent
    assert response.status_code == 204
    offer.refresh_from_db()
    call.refresh_from_db()
    assert offer.status == Offer.Status.ACCEPTED
    assert call.work_item.status == WorkItem.Status.ASSIGNED
    assert call.answered_at == answered_at
    assert call.agent == agent
    assert call.outcome == CallOutcome.ANSWERED

    # when the conversation ends (the Dial action)
    body = twilio_post(
        base, call_params(call_sid, DialCallStatus="completed", DialCallDuration="95")
    ).content.decode()

    # then the caller's leg hangs up and the work item is done; talk time is Twilio's
    assert "<Hangup />" in body
    call.refresh_from_db()
    assert call.work_item.status == WorkItem.Status.DONE
    assert call.talk_seconds == 95


def test_the_dial_action_alone_also_accepts_and_finishes(
    twilio_post, phone_number, tenant, clean_log
):
    available_agent(tenant, idle_minutes=5)
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    offer = Offer.objects.get(work_item=call.work_item)
    ring_agent(call_id=call.pk, offer_id=offer.pk)

    twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/dial/{offer.pk}/",
        call_params(call_sid, DialCallStatus="answered", DialCallDuration="30"),
    )

    offer.refresh_from_db()
    call.refresh_from_db()
    assert offer.status == Offer.Status.ACCEPTED
    assert call.work_item.status == WorkItem.Status.DONE
    assert call.outcome == CallOutcome.ANSWERED


def test_no_answer_tries_the_next_agent_and_the_caller_keeps_their_place(
    twilio_post, phone_number, tenant, support_queue, clean_log
):
    # given two available agents; the longest idle is offered the call first
    first = available_agent(tenant, idle_minutes=10)
    second = available_agent(tenant, idle_minutes=5)
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    item = call.work_item
    enqueued_at = item.enqueued_at
    offer = Offer.objects.get(work_item=item)
    assert offer.agent == first
    ring_agent(call_id=call.pk, offer_id=offer.pk)

    # when the first agent does not answer
    body = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/dial/{offer.pk}/",
        call_params(call_sid, DialCallStatus="no-answer"),
    ).content.decode()

    # then the caller goes back into the same queue, with the same work item and place
    assert f">cc-{support_queue.pk}</Enqueue>" in body
    item.refresh_from_db()
    offer.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED
    assert item.enqueued_at == enqueued_at
    assert WorkItem.objects.count() == 1
    # and the next agent is offered the call
    assert item.status == WorkItem.Status.OFFERED
    assert item.agent == second


def test_a_stale_ring_url_sends_the_caller_back_to_the_queue(
    twilio_post, phone_number, tenant, support_queue, clean_log
):
    available_agent(tenant, idle_minutes=5)
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    offer = Offer.objects.get(work_item=call.work_item)
    Offer.objects.filter(pk=offer.pk).update(status=Offer.Status.EXPIRED)

    body = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/ring/{offer.pk}/", call_params(call_sid)
    ).content.decode()

    assert "<Enqueue" in body
    assert "<Dial" not in body


def test_hanging_up_while_waiting_abandons_the_call(twilio_post, phone_number, clean_log):
    # given a caller waiting with nobody available
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)

    # when they hang up (the Enqueue action reports it)
    response = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/queue/exit/",
        call_params(call_sid, QueueResult="hangup", QueueTime="42", QueueSid="QU" + "1" * 32),
    )

    # then the call is abandoned and its work item cancelled
    assert response.status_code == 200
    call.refresh_from_db()
    assert call.abandoned is True
    assert call.outcome == CallOutcome.ABANDONED
    assert call.work_item.status == WorkItem.Status.CANCELLED


def test_the_completed_status_of_a_waiting_caller_also_abandons(
    twilio_post, phone_number, clean_log
):
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)

    twilio_post(
        "/hooks/twilio/voice/status/",
        call_params(call_sid, CallStatus="completed", SequenceNumber="3", CallDuration="50"),
    )

    call = Call.objects.get(sid=call_sid)
    assert call.abandoned is True
    assert call.work_item.status == WorkItem.Status.CANCELLED
    assert call.status == "completed"


def test_the_wait_url_announces_position_and_expected_wait(
    twilio_post, phone_number, support_queue, clean_log
):
    # given two callers waiting with nobody available
    first, second = new_call_sid(), new_call_sid()
    enter_queue(twilio_post, first)
    enter_queue(twilio_post, second)
    call = Call.objects.get(sid=second)

    # when the second caller's wait music loops
    body = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/queue/wait/",
        call_params(second, QueuePosition="2", QueueTime="10", AvgQueueTime="60"),
    ).content.decode()

    # then they hear, in Danish, that they are number 2 and roughly how long it takes
    assert "Du er nummer 2 i køen." in body
    assert "Den forventede ventetid er cirka 6 minutter." in body
    assert "<Pause" in body or "<Play" in body


def test_a_queue_error_offers_voicemail_instead_of_dropping_the_caller(
    twilio_post, phone_number, clean_log
):
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)

    body = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/queue/exit/",
        call_params(call_sid, QueueResult="system-error", QueueTime="3"),
    ).content.decode()

    assert "<Record" in body
    call.refresh_from_db()
    assert call.work_item.status == WorkItem.Status.CANCELLED


@pytest.fixture
def published(monkeypatch):
    """Events handed to subscribers (only this recorder: nothing goes to Redis or Celery)."""
    events = []
    monkeypatch.setattr("crm.events._subscribers", [events.append])
    return events


def test_a_calls_life_is_announced_as_domain_events(
    twilio_post, phone_number, tenant, clean_log, published, django_capture_on_commit_callbacks
):
    # given an available agent
    agent = available_agent(tenant, idle_minutes=5)
    call_sid = new_call_sid()

    # when a call comes in, is queued, answered and completed
    with django_capture_on_commit_callbacks(execute=True):
        enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    offer = Offer.objects.get(work_item=call.work_item)
    ring_agent(call_id=call.pk, offer_id=offer.pk)
    with django_capture_on_commit_callbacks(execute=True):
        twilio_post(
            f"/hooks/twilio/voice/calls/{call.pk}/dial/{offer.pk}/",
            call_params(call_sid, DialCallStatus="completed", DialCallDuration="12"),
        )
    with django_capture_on_commit_callbacks(execute=True):
        twilio_post(
            "/hooks/twilio/voice/status/",
            call_params(call_sid, CallStatus="completed", SequenceNumber="4", CallDuration="40"),
        )

    # then each step was published, in order, with the call's id
    calls = [event for event in published if event.name.startswith("call.")]
    assert [event.name for event in calls] == [
        "call.received",
        "call.queued",
        "call.answered",
        "call.ended",
    ]
    assert {event.payload["call_id"] for event in calls} == {call.pk}
    answered, ended = calls[2], calls[3]
    assert answered.agent_user_id == agent.user_id
    assert ended.payload["outcome"] == "answered"
    assert ended.payload["talk_seconds"] == 12
    assert ended.payload["abandoned"] is False


def test_waiting_callers_hear_the_configured_hold_music(
    twilio_post, phone_number, settings, clean_log
):
    settings.TELEPHONY_HOLD_MUSIC_URL = "https://cdn.example.com/hold.mp3"
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)

    body = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/queue/wait/", call_params(call_sid)
    ).content.decode()

    assert "Du er nummer 1 i køen." in body
    assert "<Play>https://cdn.example.com/hold.mp3</Play>" in body


def test_a_caller_who_waited_the_queues_maximum_is_offered_voicemail(
    twilio_post, phone_number, support_queue, clean_log
):
    # given a caller who has waited longer than the queue allows (5 minutes)
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    WorkItem.objects.filter(pk=call.work_item_id).update(
        enqueued_at=timezone.now() - timedelta(seconds=support_queue.max_wait_seconds + 1)
    )

    # when the wait music loops again, the caller leaves the queue
    wait = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/queue/wait/", call_params(call_sid)
    ).content.decode()
    assert "<Leave />" in wait

    # and the Enqueue action ("leave") asks for a voicemail and takes the item out of routing
    body = twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/queue/exit/",
        call_params(call_sid, QueueResult="leave", QueueTime="301"),
    ).content.decode()
    assert "<Record" in body
    call.refresh_from_db()
    assert call.work_item.status == WorkItem.Status.CANCELLED
    assert call.abandoned is False
