"""Idempotent and order-tolerant webhooks: duplicates change nothing, statuses never go back,
and one call's whole webhook sequence replayed in shuffled order gives the same rows."""

from __future__ import annotations

import random
from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Offer, Presence, TimelineEntry, WorkItem
from telephony.models import Call, CallEvent, CallStatus
from telephony.tasks import ring_agent
from tests.crm.factories import AgentProfileFactory, ContactFactory, ContactIdentityFactory
from tests.telephony.conftest import CALLER, call_params, new_call_sid

pytestmark = pytest.mark.django_db
STATUS = "/hooks/twilio/voice/status/"


def status_params(call_sid: str, status: str, seq: int, at, **extra) -> dict[str, str]:
    return call_params(
        call_sid,
        CallStatus=status,
        SequenceNumber=str(seq),
        Timestamp=format_datetime(at),
        CallbackSource="call-progress-events",
        **extra,
    )


def status_callbacks(call_sid: str, start) -> list[dict[str, str]]:
    return [
        status_params(call_sid, "initiated", 0, start),
        status_params(call_sid, "ringing", 1, start + timedelta(seconds=1)),
        status_params(call_sid, "in-progress", 2, start + timedelta(seconds=2)),
        status_params(call_sid, "completed", 3, start + timedelta(seconds=81), CallDuration="79"),
    ]


def snapshot() -> dict:
    """Every row the call's webhooks write, by value (ids included: no new rows allowed)."""
    return {
        "calls": list(Call.objects.order_by("pk").values()),
        "events": sorted(CallEvent.objects.values_list("key", "call_id", "kind")),
        "items": list(WorkItem.objects.order_by("pk").values()),
        "offers": list(Offer.objects.order_by("pk").values()),
        "timeline": sorted(TimelineEntry.objects.values_list("pk", "kind", "ref_id")),
    }


def test_a_late_ringing_never_reopens_a_completed_call(twilio_post, phone_number):
    # given a call that completed
    call_sid = new_call_sid()
    twilio_post("/hooks/twilio/voice/", call_params(call_sid))
    start = timezone.now().replace(microsecond=0)
    completed, ringing = status_callbacks(call_sid, start)[3], status_callbacks(call_sid, start)[1]
    twilio_post(STATUS, completed)

    # when a delayed `ringing` arrives
    response = twilio_post(STATUS, ringing)

    # then it is recorded but the call stays completed
    assert response.status_code == 204
    call = Call.objects.get(sid=call_sid)
    assert call.status == CallStatus.COMPLETED
    assert call.last_sequence_number == 3
    assert call.ended_at == start + timedelta(seconds=81)
    assert call.duration_seconds == 79
    assert CallEvent.objects.filter(call=call, kind="status").count() == 2


def test_a_duplicate_status_callback_is_acknowledged_and_ignored(twilio_post, phone_number):
    call_sid = new_call_sid()
    twilio_post("/hooks/twilio/voice/", call_params(call_sid))
    completed = status_callbacks(call_sid, timezone.now())[3]

    assert twilio_post(STATUS, completed).status_code == 204
    before = snapshot()
    assert twilio_post(STATUS, completed).status_code == 204

    assert snapshot() == before


def test_a_status_callback_for_an_unknown_call_is_recorded_and_ignored(twilio_post):
    call_sid = new_call_sid()
    response = twilio_post(STATUS, status_callbacks(call_sid, timezone.now())[3])

    assert response.status_code == 204
    event = CallEvent.objects.get()
    assert (event.call, event.tenant, event.call_sid) == (None, None, call_sid)
    assert Call.objects.count() == 0


@pytest.mark.parametrize(
    "extra",
    [{"CallStatus": "exploded"}, {"SequenceNumber": "three"}, {"Timestamp": "yesterday"}],
    ids=["status", "sequence", "timestamp"],
)
def test_a_malformed_status_callback_is_400(twilio_post, phone_number, extra):
    call_sid = new_call_sid()
    twilio_post("/hooks/twilio/voice/", call_params(call_sid))
    params = {**status_callbacks(call_sid, timezone.now())[3], **extra}

    assert twilio_post(STATUS, params).status_code == 400
    assert CallEvent.objects.filter(kind="status").count() == 0


def test_status_timings_do_not_depend_on_arrival_order(twilio_post, phone_number):
    # given three calls with the same provider timestamps, delivered in three different orders
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    rng = random.Random(3)
    results = []
    for _ in range(3):
        call_sid = new_call_sid()
        twilio_post("/hooks/twilio/voice/", call_params(call_sid))
        callbacks = status_callbacks(call_sid, start)
        rng.shuffle(callbacks)
        for params in callbacks:
            assert twilio_post(STATUS, params).status_code == 204
        call = Call.objects.get(sid=call_sid)
        results.append(
            (
                call.status,
                call.started_at,
                call.ended_at,
                call.duration_seconds,
                call.last_sequence_number,
                call.outcome,
            )
        )

    # then every call ends up with the same status and timings, from the provider's clock
    assert results[0] == results[1] == results[2]
    assert results[0][:5] == ("completed", start, start + timedelta(seconds=81), 79, 3)


def test_a_whole_calls_webhooks_replayed_three_times_shuffled_give_the_same_rows(
    twilio_post, phone_number, tenant
):
    # given a known caller and an available agent
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, value=CALLER)
    agent = AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=3),
    )
    call_sid, leg_sid = new_call_sid(), new_call_sid()
    start = timezone.now().replace(microsecond=0) + timedelta(seconds=1)
    answered = start + timedelta(seconds=20)
    call_id: list[int] = []
    offer_id: list[int] = []

    def call_url(suffix: str) -> str:
        return f"/hooks/twilio/voice/calls/{call_id[0]}/{suffix}"

    def flow() -> list:
        """The call's TwiML-driven requests, in the only order Twilio can send them."""
        return [
            ("/hooks/twilio/voice/", lambda: call_params(call_sid)),
            (
                f"/hooks/twilio/voice/gather/{phone_number.entry_menu_id}/0/",
                lambda: call_params(call_sid, Digits="1"),
            ),
            ("task", None),
            (lambda: call_url("queue/wait/"), lambda: call_params(call_sid, QueuePosition="1")),
            (
                lambda: call_url("queue/exit/"),
                lambda: call_params(call_sid, QueueResult="redirected", QueueTime="7"),
            ),
            (lambda: call_url(f"ring/{offer_id[0]}/"), lambda: call_params(call_sid)),
            (
                lambda: call_url(f"dial/{offer_id[0]}/leg/"),
                lambda: call_params(
                    leg_sid,
                    ParentCallSid=call_sid,
                    CallStatus="in-progress",
                    SequenceNumber="1",
                    Timestamp=format_datetime(answered),
                ),
            ),
            (
                lambda: call_url(f"dial/{offer_id[0]}/"),
                lambda: call_params(call_sid, DialCallStatus="completed", DialCallDuration="60"),
            ),
            (
                lambda: call_url(f"dial/{offer_id[0]}/leg/"),
                lambda: call_params(
                    leg_sid,
                    ParentCallSid=call_sid,
                    CallStatus="completed",
                    SequenceNumber="2",
                    Timestamp=format_datetime(answered + timedelta(seconds=60)),
                ),
            ),
        ]

    def send(step) -> None:
        path, params = step
        if path == "task":
            ring_agent(call_id=call_id[0], offer_id=offer_id[0])
            return
        if path == STATUS:
            assert twilio_post(STATUS, params).status_code == 204
            return
        response = twilio_post(path() if callable(path) else path, params())
        assert response.status_code in (200, 204), (path, response.content)
        if not call_id:
            call_id.append(Call.objects.get(sid=call_sid).pk)
        if not offer_id and Offer.objects.exists():
            offer_id.append(Offer.objects.get().pk)

    statuses = [(STATUS, p) for p in status_callbacks(call_sid, start)]
    rng = random.Random(11)

    # when the call happens: the flow in order, progress callbacks interleaved at random
    # (the completion callback only once the call is over), then everything twice more,
    # shuffled as a whole
    sequence = flow()
    for status in statuses[:3]:
        sequence.insert(rng.randint(1, len(sequence)), status)
    sequence.append(statuses[3])
    for step in sequence:
        send(step)
    first = snapshot()
    replays = []
    for _ in range(2):
        everything = flow() + statuses
        rng.shuffle(everything)
        for step in everything:
            send(step)
        replays.append(snapshot())

    # then the replays changed nothing
    assert replays[0] == first
    assert replays[1] == first
    # and the rows tell the call's story, with timings from the provider's timestamps
    call = Call.objects.get(sid=call_sid)
    assert call.status == CallStatus.COMPLETED
    assert call.outcome == "answered"
    assert call.agent == agent
    assert call.contact == contact
    assert call.started_at == start
    assert call.answered_at == answered
    assert call.ended_at == start + timedelta(seconds=81)
    assert call.talk_seconds == 60
    assert call.duration_seconds == 79
    assert call.abandoned is False
    assert call.work_item.status == WorkItem.Status.DONE
    assert Offer.objects.get().status == Offer.Status.ACCEPTED
    assert sorted(TimelineEntry.objects.values_list("kind", flat=True)) == [
        "call.ended",
        "call.received",
    ]


def test_a_status_callback_costs_the_same_queries_however_many_came_before(
    twilio_post, phone_number
):
    # given a call with one progress callback so far
    call_sid = new_call_sid()
    twilio_post("/hooks/twilio/voice/", call_params(call_sid))
    start = timezone.now()
    twilio_post(STATUS, status_params(call_sid, "initiated", 0, start))

    def queries_for(params) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert twilio_post(STATUS, params).status_code == 204
        return len(captured)

    few = queries_for(status_params(call_sid, "ringing", 1, start))

    # when many more deliveries were recorded for it
    for seq in range(2, 30):
        twilio_post(STATUS, status_params(call_sid, "in-progress", seq, start))
    many = queries_for(status_params(call_sid, "ringing", 30, start))

    # then a callback still costs the same few queries
    assert many == few
    assert few <= 10
