"""Queue metrics (telephony.metrics) on a hand-computed set of calls.

The fixture, all on 2 March 2026 (UTC), window 09:00 to 10:00:

| call | queue   | queued   | what happened                | wait | talk | hold | wrap-up |
|------|---------|----------|------------------------------|------|------|------|---------|
| S1   | Support | 09:01:00 | answered                     | 10   | 100  | 20   | 30      |
| S2   | Support | 09:05:00 | answered                     | 30   | 200  | —    | 40      |
| S3   | Support | 09:10:00 | hung up waiting (short)      | 3    |      |      |         |
| S4   | Support | 09:12:00 | hung up waiting              | 45   |      |      |         |
| S5   | Support | 09:20:00 | answered (exactly at 20 s)   | 20   | 60   | 0    | 0       |
| S6   | Support | 09:25:00 | voicemail after max wait     | 120  |      |      |         |
| S7   | Support | 09:29:59 | still waiting                |      |      |      |         |
| X1   | Sales   | 09:02:00 | answered                     | 5    | 90   | —    | 10      |
| X2   | Sales   | 09:40:00 | hung up waiting              | 8    |      |      |         |

Outside the window or never queued (must not count): a Support call queued 08:59:59, one queued
at 10:00:00 (the window is half-open), and a call that ended in the IVR. Another tenant has
calls in the same window.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import ChannelKind, Role
from crm.tenancy import Principal
from telephony import metrics
from telephony.models import Call, CallOutcome, CallStatus
from tests.crm.factories import QueueFactory

pytestmark = pytest.mark.django_db

SINCE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UNTIL = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
_sids = itertools.count(1)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 3, 2, hh, mm, ss, tzinfo=UTC)


def queued_call(tenant, queue, queued_at, *, wait=None, answered=False, abandoned=False,
                ended=True, talk=None, hold=None, wrapup=None) -> Call:  # fmt: skip
    """A call as the telephony services leave it once its timings are known."""
    answered_at = queued_at + timedelta(seconds=wait) if answered else None
    ended_at = None
    if ended:
        ended_at = (answered_at or queued_at) + timedelta(seconds=(talk or 0) if answered else wait)
    if answered:
        outcome = CallOutcome.ANSWERED
    elif abandoned:
        outcome = CallOutcome.ABANDONED
    else:
        outcome = CallOutcome.VOICEMAIL if ended else ""
    return Call.objects.create(
        tenant=tenant,
        sid=f"CA{next(_sids):032x}",
        direction=Call.Direction.INBOUND,
        from_number="+4520304050",
        to_number="+4570100100",
        queue=queue,
        status=CallStatus.COMPLETED if ended else CallStatus.IN_PROGRESS,
        started_at=queued_at - timedelta(seconds=15),
        queued_at=queued_at,
        answered_at=answered_at,
        ended_at=ended_at,
        wait_seconds=wait if (answered or ended) else None,
        talk_seconds=talk,
        hold_seconds=hold,
        wrapup_seconds=wrapup,
        abandoned=abandoned,
        outcome=outcome,
    )


@pytest.fixture
def queues(tenant):
    support = QueueFactory(tenant=tenant, name="Support", channel_kinds=[ChannelKind.VOICE])
    sales = QueueFactory(tenant=tenant, name="Sales", channel_kinds=[ChannelKind.VOICE])
    return support, sales


@pytest.fixture
def calls(tenant, other_tenant, queues):
    support, sales = queues
    q = queued_call
    q(tenant, support, at(9, 1), wait=10, answered=True, talk=100, hold=20, wrapup=30)
    q(tenant, support, at(9, 5), wait=30, answered=True, talk=200, wrapup=40)
    q(tenant, support, at(9, 10), wait=3, abandoned=True)
    q(tenant, support, at(9, 12), wait=45, abandoned=True)
    q(tenant, support, at(9, 20), wait=20, answered=True, talk=60, hold=0, wrapup=0)
    q(tenant, support, at(9, 25), wait=120)
    q(tenant, support, at(9, 29, 59), ended=False)
    q(tenant, sales, at(9, 2), wait=5, answered=True, talk=90, wrapup=10)
    q(tenant, sales, at(9, 40), wait=8, abandoned=True)
    # Not in the window, or never queued.
    q(tenant, support, at(8, 59, 59), wait=5, answered=True, talk=10)
    q(tenant, support, at(10, 0), wait=50, abandoned=True)
    Call.objects.create(
        tenant=tenant,
        sid=f"CA{next(_sids):032x}",
        direction=Call.Direction.INBOUND,
        from_number="+4520304050",
        to_number="+4570100100",
        started_at=at(9, 30),
        ended_at=at(9, 31),
        outcome=CallOutcome.ENDED_IN_IVR,
    )
    # Another tenant's queue, same window: visible only to its own people.
    theirs = QueueFactory(tenant=other_tenant, name="Obsługa", channel_kinds=[ChannelKind.VOICE])
    q(other_tenant, theirs, at(9, 3), wait=300, answered=True, talk=1000)
    q(other_tenant, theirs, at(9, 4), wait=200, abandoned=True)


@pytest.fixture
def principal(tenant):
    return Principal(roles={tenant.pk: Role.SUPERVISOR})


def test_one_queue_over_the_window(calls, queues, principal):
    # given the calls above; when Support's metrics are computed
    support, _ = queues
    result = metrics.queue_metrics(principal=principal, since=SINCE, until=UNTIL, queue=support)

    # then S1..S7 were offered; S1, S2, S5 answered (S1 and S5 within 20 s); S3 is a short
    # abandon left out of the rates; S4 abandoned; S6 overflowed; S7 is still waiting.
    assert result.offered == 7
    assert result.answered == 3
    assert result.answered_within_threshold == 2
    assert result.short_abandoned == 1
    assert result.abandoned == 1
    assert result.overflowed == 1
    assert result.completed == 5
    assert result.service_level == pytest.approx(2 / 5)
    assert result.abandonment_rate == pytest.approx(1 / 5)
    # ASA (10 + 30 + 20) / 3; AHT ((100+20+30) + (200+0+40) + (60+0+0)) / 3.
    assert result.average_speed_of_answer == pytest.approx(20.0)
    assert result.average_handle_time == pytest.approx(150.0)


def test_the_named_selectors_agree(calls, queues, principal):
    support, _ = queues
    window = {"principal": principal, "since": SINCE, "until": UNTIL, "queue": support}

    assert metrics.service_level(**window) == pytest.approx(0.4)
    assert metrics.service_level(**window, threshold_seconds=10) == pytest.approx(1 / 5)
    assert metrics.average_speed_of_answer(**window) == pytest.approx(20.0)
    assert metrics.average_handle_time(**window) == pytest.approx(150.0)
    assert metrics.abandonment_rate(**window) == pytest.approx(0.2)
    # With no grace S3 counts as abandoned too: 2 of 6.
    assert metrics.abandonment_rate(**window, grace_seconds=0) == pytest.approx(2 / 6)
    # The queue may also be given by id.
    assert metrics.service_level(**{**window, "queue": support.pk}) == pytest.approx(0.4)


def test_all_queues_of_the_tenant(calls, principal):
    result = metrics.queue_metrics(principal=principal, since=SINCE, until=UNTIL)

    # Support plus Sales (X1 answered within 5 s, X2 abandoned after 8 s).
    assert result.offered == 9
    assert result.answered == 4
    assert result.completed == 7
    assert result.service_level == pytest.approx(3 / 7)
    assert result.abandonment_rate == pytest.approx(2 / 7)
    assert result.average_speed_of_answer == pytest.approx((10 + 30 + 20 + 5) / 4)
    assert result.average_handle_time == pytest.approx((150 + 240 + 60 + 100) / 4)


def test_interval_report(calls, principal):
    rows = metrics.queue_interval_report(principal=principal, since=SINCE, until=UNTIL)

    summary = [
        (
            r["interval_start"].strftime("%H:%M"),
            r["queue_name"],
            r["offered"],
            r["answered"],
            r["abandoned"],
            r["service_level"],
            r["abandonment_rate"],
            r["average_speed_of_answer"],
            r["average_handle_time"],
        )
        for r in rows
    ]
    assert summary == [
        ("09:00", "Sales", 1, 1, 0, 1.0, 0.0, 5.0, 100.0),
        # S1, S2, S3 (short), S4: SL 1 of 3, abandoned 1 of 3, ASA 20, AHT (150 + 240) / 2.
        ("09:00", "Support", 4, 2, 1, pytest.approx(1 / 3), pytest.approx(1 / 3), 20.0, 195.0),
        # S5 (within), S6 (overflowed), S7 (waiting): 1 of 2.
        ("09:15", "Support", 3, 1, 0, 0.5, 0.0, 20.0, 60.0),
        ("09:30", "Sales", 1, 0, 1, 0.0, 1.0, None, None),
    ]
    assert rows[0]["interval_start"] == at(9, 0)
    assert rows[0]["interval_end"] == at(9, 15)
    assert rows[1]["short_abandoned"] == 1
    assert rows[2]["overflowed"] == 1


def test_interval_report_in_a_local_time_zone_and_hourly(calls, queues, principal):
    support, _ = queues
    copenhagen = ZoneInfo("Europe/Copenhagen")  # UTC+1 in March, before summer time

    rows = metrics.queue_interval_report(
        principal=principal,
        since=SINCE,
        until=UNTIL,
        interval_minutes=60,
        queue=support,
        tz=copenhagen,
    )

    assert len(rows) == 1
    assert rows[0]["interval_start"] == datetime(2026, 3, 2, 10, 0, tzinfo=copenhagen)
    assert rows[0]["interval_start"] == SINCE
    assert (rows[0]["offered"], rows[0]["service_level"]) == (7, pytest.approx(0.4))


def test_interval_must_divide_a_day(principal):
    with pytest.raises(ValueError, match="divide a day"):
        metrics.queue_interval_report(
            principal=principal, since=SINCE, until=UNTIL, interval_minutes=7
        )


def test_tenants_see_only_their_own_calls(calls, tenant, other_tenant, principal, queues):
    theirs = Principal(roles={other_tenant.pk: Role.MANAGER})
    nobody = Principal()
    everyone = Principal(is_superuser=True)

    assert metrics.queue_metrics(principal=principal, since=SINCE, until=UNTIL).offered == 9
    other = metrics.queue_metrics(principal=theirs, since=SINCE, until=UNTIL)
    assert (other.offered, other.answered, other.abandoned) == (2, 1, 1)
    assert other.average_speed_of_answer == pytest.approx(300.0)
    # Asking about our queue from the other tenant finds nothing rather than our figures.
    support, _ = queues
    assert metrics.service_level(principal=theirs, since=SINCE, until=UNTIL, queue=support) is None
    assert metrics.queue_interval_report(principal=nobody, since=SINCE, until=UNTIL) == []
    assert {
        r["queue_name"]
        for r in metrics.queue_interval_report(principal=theirs, since=SINCE, until=UNTIL)
    } == {"Obsługa"}
    assert metrics.queue_metrics(principal=everyone, since=SINCE, until=UNTIL).offered == 11


def test_no_calls_gives_no_rates(tenant, principal):
    result = metrics.queue_metrics(principal=principal, since=SINCE, until=UNTIL)

    assert result.offered == 0
    assert result.service_level is None
    assert result.abandonment_rate is None
    assert result.average_speed_of_answer is None
    assert result.average_handle_time is None


def test_one_query_each_however_many_calls(calls, tenant, queues, principal):
    support, sales = queues

    def count_queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as summary:
            metrics.queue_metrics(principal=principal, since=SINCE, until=UNTIL)
        with CaptureQueriesContext(connection) as report:
            metrics.queue_interval_report(principal=principal, since=SINCE, until=UNTIL)
        return len(summary), len(report)

    before = count_queries()
    for minute in range(0, 60, 3):
        queued_call(tenant, support if minute % 2 else sales, at(9, minute), wait=7, answered=True,
                    talk=30)  # fmt: skip

    assert before == (1, 1)
    assert count_queries() == (1, 1)
