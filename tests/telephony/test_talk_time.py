"""Talk time is summed over every agent leg of a call (hold/resume, transfers), from the
provider's per-leg figures, so replayed or shuffled webhooks give the same total."""

from __future__ import annotations

import random

import pytest

from telephony.models import Call
from tests.telephony import incall_support
from tests.telephony.conftest import call_params, new_call_sid
from tests.telephony.incall_support import answered_call, api, run_redirects

pytestmark = pytest.mark.django_db
clean_log = incall_support.clean_log  # the fixture


def _leg(call: Call, leg_sid: str, status: str, sequence: int, **extra: str) -> dict[str, str]:
    return call_params(
        leg_sid,
        ParentCallSid=call.sid,
        CallStatus=status,
        SequenceNumber=str(sequence),
        Direction="outbound-dial",
        **extra,
    )


def test_talk_time_is_summed_across_hold_and_resume_whatever_the_webhook_order(
    twilio_post, phone_number, tenant, clean_log
):
    # given a caller answered by an agent (first leg), put on hold and resumed (second leg)
    answered = answered_call(twilio_post, tenant)
    call, agent, offer = answered.call, answered.agent, answered.offer
    first_answered_at = call.answered_at
    client = api(agent.user)
    assert client.post(f"/api/v1/calls/{call.pk}/hold/").status_code == 200
    assert client.post(f"/api/v1/calls/{call.pk}/resume/").status_code == 200
    run_redirects(call)
    first_leg_sid, second_leg_sid = new_call_sid(), new_call_sid()
    ring_leg = f"/hooks/twilio/voice/calls/{call.pk}/dial/{offer.pk}/leg/"
    connect = f"/hooks/twilio/voice/calls/{call.pk}/connect/{agent.pk}/"
    deliveries = [
        # the first leg ended when the hold redirected the caller (no Dial action for it)
        (ring_leg, _leg(call, first_leg_sid, "completed", 2, CallDuration="30")),
        (connect + "leg/", _leg(call, second_leg_sid, "in-progress", 0)),
        (connect + "leg/", _leg(call, second_leg_sid, "completed", 1, CallDuration="45")),
        (
            connect + "dial/",
            call_params(
                call.sid,
                CallStatus="in-progress",
                DialCallStatus="completed",
                DialCallSid=second_leg_sid,
                DialCallDuration="45",
            ),
        ),
        (
            "/hooks/twilio/voice/status/",
            call_params(call.sid, CallStatus="completed", SequenceNumber="5", CallDuration="150"),
        ),
    ]

    # when every delivery arrives three times in a shuffled order
    shuffled = deliveries * 3
    random.Random(7).shuffle(shuffled)
    for path, params in shuffled:
        assert twilio_post(path, params).status_code in (200, 204)

    # then talk is the two legs' talk (30 + 45), counted once, and the first answer is kept
    call.refresh_from_db()
    assert call.talk_seconds == 75
    assert call.answered_at == first_answered_at
    assert call.is_over


def test_a_later_answer_by_another_agent_keeps_the_first_answer_time(
    twilio_post, phone_number, tenant, clean_log
):
    # given a caller answered once
    answered = answered_call(twilio_post, tenant)
    call, offer = answered.call, answered.offer
    first_answered_at = call.answered_at

    # when a later `in-progress` of the same offer arrives with a later provider timestamp
    twilio_post(
        f"/hooks/twilio/voice/calls/{call.pk}/dial/{offer.pk}/leg/",
        _leg(call, new_call_sid(), "in-progress", 1, Timestamp="Tue, 01 Jan 2036 10:00:00 +0000"),
    )

    # then the first answer time stands (wait and ring are about the first answer)
    call.refresh_from_db()
    assert call.answered_at == first_answered_at
