"""Queue metrics of inbound calls, computed in the database: service level, average speed of
answer, average handle time, abandonment rate, and the same per queue per interval.

Every selector is tenant-scoped through `crm.tenancy.scope` and runs one aggregate query
however many calls there are. They read the durations the telephony services store on `Call`
(`wait_seconds`, `talk_seconds`, `hold_seconds`, `wrapup_seconds`), never the raw webhooks.

Definitions (the usual contact-center ones; a supervisor reading the wallboard relies on them):

* **Offered**: a call that entered a queue (`queued_at`) within ``[since, until)``. A call
  belongs to the interval in which it was queued, whenever it was answered or ended.
* **Short abandon**: the caller hung up less than `SHORT_ABANDON_SECONDS` (5 s) after being
  queued — a misdial or an impatient caller the center never had a chance to serve. Short
  abandons are left out of every rate below (they are counted separately).
* **Answered**: an agent answered (`answered_at` set). Its wait is `wait_seconds`: queued until
  answered.
* **Abandoned**: the caller hung up waiting, after the short-abandon grace.
* **Overflowed**: left the queue unanswered another way (voicemail or callback after the
  queue's maximum wait, forwarded) — not answered, so it counts against the service level.
* **Still waiting** calls (neither answered nor ended) are in `offered` but in no rate yet.

* **Service level** = answered within `threshold_seconds` of queueing ÷ (answered + abandoned
  + overflowed). None when that denominator is 0 (nothing to measure, which is not 0 %).
* **Abandonment rate** = abandoned ÷ the same denominator.
* **Average speed of answer (ASA)** = mean wait of answered calls, in seconds.
* **Average handle time (AHT)** = mean of talk + hold + wrap-up seconds of answered calls whose
  talk time is known (hold and wrap-up count as 0 when not recorded).

Intervals are aligned to the clock in `tz` (UTC by default): 15-minute intervals start at
:00, :15, :30 and :45. `interval_minutes` must divide a day (5, 10, 15, 30, 60, 120, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from django.db.models import Avg, Count, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, ExtractHour, ExtractMinute, Floor, TruncDate

from crm.models import Queue
from crm.tenancy import Principal, scope
from telephony.models import Call

SHORT_ABANDON_SECONDS = 5
DEFAULT_THRESHOLD_SECONDS = 20
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class QueueMetrics:
    """The counts and rates of one set of offered calls (see the module docstring)."""

    offered: int
    answered: int
    answered_within_threshold: int
    abandoned: int
    short_abandoned: int
    overflowed: int
    service_level: float | None
    abandonment_rate: float | None
    average_speed_of_answer: float | None
    average_handle_time: float | None

    @property
    def completed(self) -> int:
        """The denominator of the rates: answered + abandoned + overflowed."""
        return self.answered + self.abandoned + self.overflowed


# --- the aggregate expressions, shared by the summary and the interval report ---------------


def _aggregates(*, threshold_seconds: int, grace_seconds: int) -> dict[str, Any]:
    # Prefixed "m_": an aggregate may not share its name with a field (`abandoned`).
    answered = Q(answered_at__isnull=False)
    short = Q(answered_at__isnull=True, abandoned=True, wait_seconds__lt=grace_seconds)
    abandoned = Q(answered_at__isnull=True, abandoned=True) & ~Q(wait_seconds__lt=grace_seconds)
    overflowed = Q(answered_at__isnull=True, abandoned=False, ended_at__isnull=False)
    handle = F("talk_seconds") + Coalesce("hold_seconds", 0) + Coalesce("wrapup_seconds", 0)
    return {
        "m_offered": Count("pk"),
        "m_answered": Count("pk", filter=answered),
        "m_answered_within_threshold": Count(
            "pk", filter=answered & Q(wait_seconds__lte=threshold_seconds)
        ),
        "m_abandoned": Count("pk", filter=abandoned),
        "m_short_abandoned": Count("pk", filter=short),
        "m_overflowed": Count("pk", filter=overflowed),
        # Averages come back as Decimal on PostgreSQL: `_metrics` makes them floats.
        "m_average_speed_of_answer": Avg("wait_seconds", filter=answered),
        "m_average_handle_time": Avg(handle, filter=answered & Q(talk_seconds__isnull=False)),
    }


def _metrics(row: dict[str, Any]) -> QueueMetrics:
    completed = row["m_answered"] + row["m_abandoned"] + row["m_overflowed"]
    asa, aht = row["m_average_speed_of_answer"], row["m_average_handle_time"]
    return QueueMetrics(
        offered=row["m_offered"],
        answered=row["m_answered"],
        answered_within_threshold=row["m_answered_within_threshold"],
        abandoned=row["m_abandoned"],
        short_abandoned=row["m_short_abandoned"],
        overflowed=row["m_overflowed"],
        service_level=row["m_answered_within_threshold"] / completed if completed else None,
        abandonment_rate=row["m_abandoned"] / completed if completed else None,
        average_speed_of_answer=float(asa) if asa is not None else None,
        average_handle_time=float(aht) if aht is not None else None,
    )


def offered_calls(
    *, principal: Principal, since: datetime, until: datetime, queue: Queue | int | None = None
) -> QuerySet[Call]:
    """The calls offered to a queue in ``[since, until)`` that `principal` may see."""
    calls = scope(Call.objects.all(), principal).filter(
        queue__isnull=False, queued_at__gte=since, queued_at__lt=until
    )
    if queue is not None:
        calls = calls.filter(queue_id=queue if isinstance(queue, int) else queue.pk)
    return calls


# --- the selectors ---------------------------------------------------------------------------


def queue_metrics(
    *,
    principal: Principal,
    since: datetime,
    until: datetime,
    queue: Queue | int | None = None,
    threshold_seconds: int = DEFAULT_THRESHOLD_SECONDS,
    grace_seconds: int = SHORT_ABANDON_SECONDS,
) -> QueueMetrics:
    """Every metric of the calls offered in ``[since, until)`` (to `queue`, or to any queue),
    in one query."""
    row = offered_calls(principal=principal, since=since, until=until, queue=queue).aggregate(
        **_aggregates(threshold_seconds=threshold_seconds, grace_seconds=grace_seconds)
    )
    return _metrics(row)


def service_level(
    *,
    principal: Principal,
    since: datetime,
    until: datetime,
    queue: Queue | int | None = None,
    threshold_seconds: int = DEFAULT_THRESHOLD_SECONDS,
    grace_seconds: int = SHORT_ABANDON_SECONDS,
) -> float | None:
    """Share (0 to 1) of offered calls answered within `threshold_seconds` of being queued; the
    denominator is answered + abandoned (after the short-abandon grace) + overflowed calls.
    None when no offered call has finished waiting."""
    return queue_metrics(
        principal=principal,
        since=since,
        until=until,
        queue=queue,
        threshold_seconds=threshold_seconds,
        grace_seconds=grace_seconds,
    ).service_level


def average_speed_of_answer(
    *, principal: Principal, since: datetime, until: datetime, queue: Queue | int | None = None
) -> float | None:
    """Mean seconds from queueing to an agent answering, over answered calls (None: none)."""
    return queue_metrics(
        principal=principal, since=since, until=until, queue=queue
    ).average_speed_of_answer


def average_handle_time(
    *, principal: Principal, since: datetime, until: datetime, queue: Queue | int | None = None
) -> float | None:
    """Mean talk + hold + wrap-up seconds of answered calls (None when there are none)."""
    return queue_metrics(
        principal=principal, since=since, until=until, queue=queue
    ).average_handle_time


def abandonment_rate(
    *,
    principal: Principal,
    since: datetime,
    until: datetime,
    queue: Queue | int | None = None,
    grace_seconds: int = SHORT_ABANDON_SECONDS,
) -> float | None:
    """Share (0 to 1) of offered calls whose caller hung up waiting (after the grace), over the
    same denominator as the service level. None when no offered call has finished waiting."""
    return queue_metrics(
        principal=principal, since=since, until=until, queue=queue, grace_seconds=grace_seconds
    ).abandonment_rate


def queue_interval_report(
    *,
    principal: Principal,
    since: datetime,
    until: datetime,
    interval_minutes: int = 15,
    queue: Queue | int | None = None,
    threshold_seconds: int = DEFAULT_THRESHOLD_SECONDS,
    grace_seconds: int = SHORT_ABANDON_SECONDS,
    tz: tzinfo = UTC,
) -> list[dict[str, Any]]:
    """One row per queue per interval that had offered calls, ordered by interval then queue
    name, in one query. Each row: `queue_id`, `queue_name`, `interval_start` (aware, in `tz`),
    `interval_end`, `offered`, `answered`, `abandoned`, `short_abandoned`, `overflowed`,
    `service_level`, `abandonment_rate`, `average_speed_of_answer`, `average_handle_time`.

    The interval is computed by the database (date, and minute of the day floored to the
    interval, both in `tz`), so it works the same on PostgreSQL and SQLite.
    """
    if interval_minutes <= 0 or _MINUTES_PER_DAY % interval_minutes:
        raise ValueError("interval_minutes must divide a day (e.g. 5, 15, 30, 60)")
    minute_of_day = ExtractHour("queued_at", tzinfo=tz) * Value(60) + ExtractMinute(
        "queued_at", tzinfo=tz
    )
    rows = (
        offered_calls(principal=principal, since=since, until=until, queue=queue)
        .annotate(
            day=TruncDate("queued_at", tzinfo=tz),
            # PostgreSQL's EXTRACT answers numeric, so the division may be fractional: Floor.
            slot=Floor(minute_of_day / Value(interval_minutes)),
        )
        .values("day", "slot", "queue_id", "queue__name")
        .annotate(**_aggregates(threshold_seconds=threshold_seconds, grace_seconds=grace_seconds))
        .order_by("day", "slot", "queue__name", "queue_id")
    )
    report = []
    width = timedelta(minutes=interval_minutes)
    for row in rows:
        day = row["day"]
        start = datetime(day.year, day.month, day.day, tzinfo=tz) + int(row["slot"]) * width
        metrics = _metrics(row)
        report.append(
            {
                "queue_id": row["queue_id"],
                "queue_name": row["queue__name"],
                "interval_start": start,
                "interval_end": start + width,
                "offered": metrics.offered,
                "answered": metrics.answered,
                "abandoned": metrics.abandoned,
                "short_abandoned": metrics.short_abandoned,
                "overflowed": metrics.overflowed,
                "service_level": metrics.service_level,
                "abandonment_rate": metrics.abandonment_rate,
                "average_speed_of_answer": metrics.average_speed_of_answer,
                "average_handle_time": metrics.average_handle_time,
            }
        )
    return report
