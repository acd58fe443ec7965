"""Business hours: weekly rules in the schedule's own time zone, holidays, overnight rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from crm.models import BusinessHours, BusinessHoursRule, Holiday
from telephony.services.hours import is_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(tenant):
    """Copenhagen office: Mon-Fri 08:00-16:00, closed on 24 Dec 2026 (a Thursday)."""
    hours = BusinessHours.objects.create(
        tenant=tenant, name="Office", time_zone="Europe/Copenhagen"
    )
    for weekday in range(5):
        BusinessHoursRule.objects.create(
            schedule=hours, weekday=weekday, opens=time(8), closes=time(16)
        )
    Holiday.objects.create(schedule=hours, date=date(2026, 12, 24), name="Juleaften")
    return hours


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2026, 11, 23, 7, 30), True),  # Monday 08:30 in Copenhagen (UTC+1)
        (utc(2026, 11, 23, 6, 30), False),  # Monday 07:30 local: not yet open
        (utc(2026, 11, 23, 15, 0), False),  # Monday 16:00 local: just closed
        (utc(2026, 11, 28, 10, 0), False),  # Saturday
        (utc(2026, 12, 24, 10, 0), False),  # Thursday, but a holiday
        (utc(2026, 12, 23, 23, 30), False),  # Thursday 00:30 local, Wednesday evening in UTC
        (utc(2026, 6, 1, 6, 30), True),  # Monday 08:30 in summer time (UTC+2)
    ],
)
def test_open_follows_the_schedules_time_zone_and_holidays(office, moment, expected):
    assert is_open(office, moment) is expected


def test_an_overnight_rule_stays_open_past_midnight(tenant):
    hours = BusinessHours.objects.create(tenant=tenant, name="Night", time_zone="UTC")
    BusinessHoursRule.objects.create(schedule=hours, weekday=4, opens=time(22), closes=time(2))

    assert is_open(hours, utc(2026, 11, 27, 23, 0)) is True  # Friday 23:00
    assert is_open(hours, utc(2026, 11, 28, 1, 0)) is True  # Saturday 01:00
    assert is_open(hours, utc(2026, 11, 28, 3, 0)) is False


def test_no_schedule_is_always_open():
    assert is_open(None, utc(2026, 11, 28, 3, 0)) is True
