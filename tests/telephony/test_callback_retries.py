"""Callbacks nobody reaches: retried with limits, expired in time, through the real webhooks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import AgentProfile, Presence, WorkItem
from crm.services.routing import agent_route, offer_accept
from telephony.models import Call, CallbackRequest
from telephony.services.callbacks import callback_dial, callbacks_tick
from tests.crm.factories import AgentProfileFactory
from tests.telephony import test_callbacks
from tests.telephony.conftest import call_params, new_call_sid

pytestmark = pytest.mark.django_db
clean_log = test_callbacks.clean_log  # fixtures
callbacks_on = test_callbacks.callbacks_on


def _book(twilio_post) -> CallbackRequest:
    """A caller who chose the queue and pressed 1 to be called back."""
    call_sid = new_call_sid()
    test_callbacks.enter_queue(twilio_post, call_sid)
    call = Call.objects.get(sid=call_sid)
    twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/queue/callback/", call_params(call_sid, Digits="1")
    )
    return CallbackRequest.objects.get(call=call)


def _attempt(twilio_post, tenant, callback: CallbackRequest, dial_status: str) -> Call:
    """An agent accepts the callback, the call is placed and the customer answers or not."""
    agent = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)
    (offer,) = agent_route(agent=agent)
    assert offer.work_item_id == callback.work_item_id
    offer_accept(offer=offer, agent=agent)
    call = callback_dial(callback_id=callback.pk)
    params = call_params(call.sid, Direction="outbound-api", CallStatus="in-progress")
    twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/outbound/dial/",
        {**params, "DialCallStatus": dial_status, "DialCallSid": new_call_sid()},
    )
    twilio_post(
        "/hooks/twilio/voice/status/",
        {**params, "CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "20"},
    )
    AgentProfile.objects.filter(pk=agent.pk).update(presence=Presence.OFFLINE)
    return call


def test_an_answered_callback_is_done(twilio_post, phone_number, tenant, callbacks_on, clean_log):
    callback = _book(twilio_post)
    _attempt(twilio_post, tenant, callback, "completed")
    callback.refresh_from_db()
    assert callback.status == CallbackRequest.Status.DONE
    assert callback.attempts == 1


def test_an_unanswered_callback_is_tried_again_later_until_the_attempts_are_used(
    twilio_post, phone_number, tenant, callbacks_on, clean_log, settings
):
    # given callbacks tried twice at most, ten minutes apart
    settings.TELEPHONY_CALLBACK_MAX_ATTEMPTS = 2
    settings.TELEPHONY_CALLBACK_RETRY_MINUTES = 10
    callback = _book(twilio_post)
    first_item = callback.work_item_id

    # when the customer does not answer the first call back
    _attempt(twilio_post, tenant, callback, "no-answer")

    # then it waits ten minutes for the next try, and the tick does nothing before that
    callback.refresh_from_db()
    assert callback.status == CallbackRequest.Status.RETRY
    assert callback.next_attempt_at > timezone.now() + timedelta(minutes=9)
    assert callbacks_tick() == (0, 0)

    # when the time has come (twice: a second tick must not queue it twice)
    later = callback.next_attempt_at + timedelta(seconds=1)
    assert callbacks_tick(now=later) == (1, 0)
    assert callbacks_tick(now=later) == (0, 0)

    # then it is back in the queue as a new callback work item, a step ahead
    callback.refresh_from_db()
    item = WorkItem.objects.get(pk=callback.work_item_id)
    assert callback.status == CallbackRequest.Status.WAITING
    assert item.pk != first_item
    assert item.kind == WorkItem.Kind.CALLBACK
    assert item.ref_id == str(callback.pk)
    assert item.priority == WorkItem.objects.get(pk=first_item).priority + 1

    # when the second call is not answered either, the callback has failed
    _attempt(twilio_post, tenant, callback, "busy")
    callback.refresh_from_db()
    assert callback.status == CallbackRequest.Status.FAILED
    assert callback.attempts == 2


def test_a_callback_nobody_reaches_in_time_expires_and_leaves_the_queue(
    twilio_post, phone_number, tenant, callbacks_on, clean_log, settings
):
    # given callbacks that expire after an hour, and one still waiting for an agent
    settings.TELEPHONY_CALLBACK_EXPIRY_MINUTES = 60
    callback = _book(twilio_post)
    assert callback.expires_at is not None

    # when the tick runs before and after the hour
    assert callbacks_tick() == (0, 0)
    assert callbacks_tick(now=callback.expires_at + timedelta(seconds=1)) == (0, 1)

    # then it has expired and its work item is out of routing
    callback.refresh_from_db()
    assert callback.status == CallbackRequest.Status.EXPIRED
    assert WorkItem.objects.get(pk=callback.work_item_id).status == WorkItem.Status.CANCELLED


def test_a_late_answer_after_the_end_still_marks_the_callback_done(
    twilio_post, phone_number, tenant, callbacks_on, clean_log
):
    # given an attempt whose end arrived before the customer leg's answer (webhooks reorder)
    callback = _book(twilio_post)
    agent = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)
    (offer,) = agent_route(agent=agent)
    offer_accept(offer=offer, agent=agent)
    call = callback_dial(callback_id=callback.pk)
    params = call_params(call.sid, Direction="outbound-api")
    twilio_post(
        "/hooks/twilio/voice/status/",
        {**params, "CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "20"},
    )
    callback.refresh_from_db()
    assert callback.status == CallbackRequest.Status.RETRY

    # when the customer leg's `in-progress` arrives afterwards
    twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/outbound/leg/",
        call_params(
            new_call_sid(), ParentCallSid=call.sid, CallStatus="in-progress", SequenceNumber="1"
        ),
    )

    # then the callback is done after all
    callback.refresh_from_db()
    assert callback.status == CallbackRequest.Status.DONE
