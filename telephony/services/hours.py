"""Business hours: is a `crm.BusinessHours` schedule open at a given moment?

Kept free of any other telephony module so channels or campaigns could reuse the rule; `crm`
itself never imports telephony (DESIGN.md §3).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from crm.models import BusinessHours


def is_open(schedule: BusinessHours | None, at: datetime) -> bool:
    """True when `schedule` is open at `at` (an aware datetime); no schedule means always open.

    The schedule's own time zone decides the local weekday, time and date. A holiday closes
    the whole local day. A rule whose `closes` is not after `opens` runs past midnight
    (Fri 22:00-02:00 is open early on Saturday too). A schedule without rules is never open.
    Reads `schedule.rules.all()` and `schedule.holidays.all()`: prefetch them on hot paths.
    """
    if schedule is None:
        return True
    local = at.astimezone(zoneinfo.ZoneInfo(schedule.time_zone))
    today, now = local.date(), local.time()
    if any(holiday.date == today for holiday in schedule.holidays.all()):
        return False
    weekday = local.weekday()
    yesterday = (weekday - 1) % 7
    for rule in schedule.rules.all():
        overnight = rule.closes <= rule.opens
        if rule.weekday == weekday:
            if not overnight and rule.opens <= now < rule.closes:
                return True
            if overnight and now >= rule.opens:
                return True
        # The tail of yesterday's overnight rule, unless today is a holiday (handled above).
        if overnight and rule.weekday == yesterday and now < rule.closes:
            previous_day = today - timedelta(days=1)
            if not any(h.date == previous_day for h in schedule.holidays.all()):
                return True
    return False
