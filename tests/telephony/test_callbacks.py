"""A waiting caller presses 1 to be called back and keeps their place; the agent who accepts
the callback is rung first, then the customer (through the simulated Twilio)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from contactcenter.celery import app as celery_app
from crm.models import Offer, Presence, WorkItem
from crm.services.routing import agent_route, offer_accept
from telephony.models import (
    Call,
    CallbackRequest,
    CallOutcome,
    MaxWaitAction,
    QueueVoiceSettings,
)
from telephony.services.callbacks import callback_dial
from telephony.services.prompts import Speech
from telephony.simulator import (
    CallScript,
    DjangoClientTransport,
    SimulatedCall,
    drive_outbound_calls,
    rest_log,
)
from tests.crm.factories import AgentProfileFactory
from tests.telephony.conftest import CALLER, NUMBER, call_params, new_call_sid

pytestmark = pytest.mark.django_db
DANISH = Speech.for_language("da")


@pytest.fixture
def clean_log():
    rest_log.clear()
    yield
    rest_log.clear()


@pytest.fixture
def eager_tasks():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def callbacks_on(support_queue):
    return QueueVoiceSettings.objects.create(
        tenant=support_queue.tenant, queue=support_queue, callback_enabled=True
    )


def enter_queue(twilio_post, call_sid: str) -> str:
    greeting = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()
    action = re.search(r'<Gather action="([^"]+)"', greeting).group(1)
    return twilio_post(action, call_params(call_sid, Digits="1")).content.decode()


def wait_twiml(twilio_post, call: Call) -> str:
    url = f"/hooks/twilio/voice/calls/{call.pk}/queue/wait/"
    return twilio_post(url, call_params(call.sid, QueuePosition="1")).content.decode()


def test_waiting_callers_hear_the_callback_offer_in_the_tenants_language(
    twilio_post, phone_number, callbacks_on
):
    # given a caller waiting in a queue that offers callbacks
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)

    # when the wait music starts
    body = wait_twiml(twilio_post, call)

    # then the announcements sit in a one-key Gather posting to the callback URL, in Danish
    callback_url = f"http://localhost:8000/hooks/twilio/voice/calls/{call.pk}/queue/callback/"
    assert f'<Gather action="{callback_url}"' in body
    assert 'numDigits="1"' in body
    assert DANISH.text("callback_offer") in body
    assert 'language="da-DK"' in body


def test_without_callbacks_the_wait_has_no_gather(twilio_post, phone_number):
    # given a queue without voice settings
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)

    # when the wait music starts
    body = wait_twiml(twilio_post, Call.objects.get(sid=call_sid))

    # then nothing is offered
    assert "<Gather" not in body
    assert DANISH.text("callback_offer") not in body


def test_pressing_1_books_a_callback_that_keeps_the_place_in_line(
    twilio_post, phone_number, callbacks_on
):
    # given a caller waiting, and a second caller who came later
    first, second = new_call_sid(), new_call_sid()
    enter_queue(twilio_post, first)
    enter_queue(twilio_post, second)
    call = Call.objects.get(sid=first)
    item = WorkItem.objects.get(pk=call.work_item_id)

    # when the first caller presses 1 during the announcements
    url = f"/hooks/twilio/voice/calls/{call.pk}/queue/callback/"
    body = twilio_post(url, call_params(first, Digits="1")).content.decode()

    # then they are thanked and leave the queue
    assert DANISH.text("callback_confirmed") in body
    assert body.endswith("<Leave /></Response>")
    # and their work item became a callback with the same place in line
    callback = CallbackRequest.objects.get(call=call)
    converted = WorkItem.objects.get(pk=item.pk)
    assert converted.kind == WorkItem.Kind.CALLBACK
    assert converted.status == WorkItem.Status.WAITING
    assert (converted.enqueued_at, converted.priority) == (item.enqueued_at, item.priority)
    assert converted.ref_type == "telephony.callback"
    assert converted.ref_id == str(callback.pk)
    later = WorkItem.objects.get(pk=Call.objects.get(sid=second).work_item_id)
    assert converted.enqueued_at <= later.enqueued_at
    assert callback.number == CALLER
    call.refresh_from_db()
    assert call.outcome == CallOutcome.CALLBACK_REQUESTED
    assert call.work_item_id is None

    # when the provider reports the queue exit and the hang-up
    exit_url = f"/hooks/twilio/voice/calls/{call.pk}/queue/exit/"
    exit_body = twilio_post(exit_url, call_params(first, QueueResult="leave", QueueTime="40"))
    twilio_post(
        "/hooks/twilio/voice/status/",
        call_params(first, CallStatus="completed", SequenceNumber="0", CallDuration="60"),
    )

    # then the call just ends (no voicemail), and the callback stays in line
    assert exit_body.content.decode().endswith("<Hangup /></Response>")
    assert WorkItem.objects.get(pk=item.pk).status == WorkItem.Status.WAITING
    call.refresh_from_db()
    assert call.outcome == CallOutcome.CALLBACK_REQUESTED
    assert not call.abandoned
    # and a repeated press changes nothing
    twilio_post(url, call_params(first, Digits="1"))
    assert CallbackRequest.objects.count() == 1


def test_another_key_keeps_the_caller_waiting(twilio_post, phone_number, callbacks_on):
    # given a waiting caller
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)

    # when they press 5
    url = f"/hooks/twilio/voice/calls/{call.pk}/queue/callback/"
    body = twilio_post(url, call_params(call_sid, Digits="5")).content.decode()

    # then they go on waiting
    assert f"/calls/{call.pk}/queue/wait/</Redirect>" in body
    assert not CallbackRequest.objects.exists()
    assert WorkItem.objects.get(pk=call.work_item_id).kind == WorkItem.Kind.CALL


def test_max_wait_books_a_callback_when_the_queue_says_so(twilio_post, phone_number, support_queue):
    # given a queue whose callers get a callback after its maximum wait
    QueueVoiceSettings.objects.create(
        tenant=support_queue.tenant, queue=support_queue, max_wait_action=MaxWaitAction.CALLBACK
    )
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    WorkItem.objects.filter(pk=call.work_item_id).update(
        enqueued_at=timezone.now() - timedelta(seconds=support_queue.max_wait_seconds + 5)
    )

    # when the wait URL is requested again
    body = wait_twiml(twilio_post, call)

    # then the caller is told they will be called back and leaves the queue
    assert DANISH.text("callback_confirmed") in body
    assert "<Leave />" in body
    assert CallbackRequest.objects.get(call=call).reason == "max_wait"


def test_max_wait_still_offers_voicemail_by_default(twilio_post, phone_number, support_queue):
    # given a caller who waited the queue's maximum, no callback configured
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    WorkItem.objects.filter(pk=call.work_item_id).update(
        enqueued_at=timezone.now() - timedelta(seconds=support_queue.max_wait_seconds + 5)
    )

    # when the wait URL is requested
    body = wait_twiml(twilio_post, call)

    # then they just leave (the Enqueue action offers voicemail)
    assert DANISH.text("callback_confirmed") not in body
    assert "<Leave />" in body
    assert not CallbackRequest.objects.exists()


def test_a_callback_through_the_simulator_rings_the_agent_then_the_customer(
    phone_number, callbacks_on, tenant, clean_log, eager_tasks, django_capture_on_commit_callbacks
):
    # given a caller in the simulated Twilio who chooses the queue, then presses 1 to be called
    # back (no agent is available yet)
    result = SimulatedCall(
        transport=DjangoClientTransport(),
        to=NUMBER,
        from_=CALLER,
        script=CallScript(presses=["1", "1"], hangup_after=300),
    ).run()
    call = Call.objects.get(sid=result.call_sid)
    callback = CallbackRequest.objects.get(call=call)
    assert DANISH.text("callback_confirmed") in " ".join(result.heard)
    assert call.outcome == CallOutcome.CALLBACK_REQUESTED
    assert callback.work_item.status == WorkItem.Status.WAITING

    # when an agent becomes available, is offered the callback and accepts it
    agent = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)
    with django_capture_on_commit_callbacks(execute=True):
        offers = agent_route(agent=agent)
    assert [offer.work_item_id for offer in offers] == [callback.work_item_id]
    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offers[0], agent=agent)

    # then the provider was asked to call the agent's browser first
    created = [r for r in rest_log.rest_log() if r["method"] == "create_call"]
    assert [(r["to"], r["from"]) for r in created] == [(f"client:agent_{agent.user_id}", NUMBER)]
    callback.refresh_from_db()
    outbound = callback.outbound_call
    assert callback.status == CallbackRequest.Status.DIALLING
    assert outbound.sid == created[0]["call_sid"]
    assert outbound.direction == Call.Direction.OUTBOUND_API
    assert (outbound.to_number, outbound.from_number) == (CALLER, NUMBER)
    assert outbound.work_item_id == callback.work_item_id

    # and when the simulated Twilio runs that call, the agent's leg dials the customer
    (leg,) = drive_outbound_calls(transport=DjangoClientTransport())
    dials = leg.steps_of("dial")
    assert [(d.detail["noun"], d.detail["target"]) for d in dials] == [("Number", CALLER)]
    outbound.refresh_from_db()
    assert outbound.outcome == CallOutcome.ANSWERED
    assert outbound.status == "completed"
    # and the callback's work item is finished with the call
    assert WorkItem.objects.get(pk=callback.work_item_id).status == WorkItem.Status.DONE
    assert Offer.objects.get(pk=offers[0].pk).status == Offer.Status.ACCEPTED


def test_a_callback_whose_item_is_not_assigned_is_not_dialled(
    twilio_post, phone_number, callbacks_on, clean_log
):
    # given a booked callback still waiting
    call_sid = new_call_sid()
    enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/queue/callback/", call_params(call_sid, Digits="1")
    )

    # when the dial task runs before any agent accepted it
    dialled = callback_dial(callback_id=CallbackRequest.objects.get().pk)

    # then nothing is placed
    assert dialled is None
    assert rest_log.rest_log() == []
