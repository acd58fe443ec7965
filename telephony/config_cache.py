"""A per-process cache of each phone number's routing configuration, for the incoming-call hook.

Loading a number with its tenant, entry menu and queue, schedules, rules, holidays and menu
options costs six queries, and mostly the ORM's compile time, on every incoming call, while
that configuration changes a few times a day. So each process keeps it, as plain immutable
values (field values, never model instances shared between requests), and hands every request
fresh model instances built from them without a query.

Freshness: one version counter in Django's cache (Redis), shared by all processes. Saving or
deleting any model the configuration is made of bumps it (receivers connected in
`TelephonyConfig.ready`), and a process drops everything it holds when it reads a version other
than the one its entries were loaded under. A process reads the version at most once per
TELEPHONY_CONFIG_RECHECK_SECONDS (default 1 s; 0 reads it on every call): the cache GET was a
round trip on every incoming call, the hottest webhook, so an edit made in *another* process is
seen within that second, and an edit made in this process at once (the bump forgets the
memo). The bump happens at once (the
editing request, and tests that never commit, see the edit) and again after the commit (so a
process that reloaded between the two cannot keep what it read before the commit).

Changes made without signals (`QuerySet.update()`, `bulk_create`, raw SQL) must call
`config_changed()` themselves. When the cache cannot be reached the configuration is read from
the database as before.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models.signals import post_delete, post_save

from crm.models import BusinessHours, BusinessHoursRule, Holiday, Queue, Tenant
from telephony.models import IvrMenu, IvrOption, PhoneNumber, QueueVoiceSettings
from telephony.selectors import number_for_incoming

logger = logging.getLogger("telephony")

VERSION_KEY = "telephony:routing-config-version"
# Numbers a process remembers; a contact center has a handful, so this only bounds memory.
MAX_NUMBERS = 1000

_IMMUTABLE = (
    str,
    int,
    float,
    bool,
    bytes,
    type(None),
    decimal.Decimal,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
)


# --- what is kept: plain values ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One model instance as the values of its concrete fields, in `_meta.concrete_fields`
    order (what `Model.from_db` expects)."""

    model: type[models.Model]
    db: str
    values: tuple[Any, ...]

    @classmethod
    def of(cls, instance: models.Model) -> Row:
        fields = instance._meta.concrete_fields
        values = tuple(getattr(instance, f.attname) for f in fields)
        return cls(type(instance), instance._state.db or DEFAULT_DB_ALIAS, values)

    def build(self) -> Any:
        # JSON and array fields hold lists and dicts: each request gets its own copies.
        values = [v if isinstance(v, _IMMUTABLE) else copy.deepcopy(v) for v in self.values]
        return self.model.from_db(self.db, None, values)


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    schedule: Row
    rules: tuple[Row, ...]
    holidays: tuple[Row, ...]

    @classmethod
    def of(cls, schedule: BusinessHours | None) -> ScheduleConfig | None:
        if schedule is None:
            return None
        return cls(
            Row.of(schedule),
            tuple(Row.of(rule) for rule in schedule.rules.all()),
            tuple(Row.of(holiday) for holiday in schedule.holidays.all()),
        )

    def build(self) -> BusinessHours:
        schedule = self.schedule.build()
        _prefetched(schedule, "rules", self.rules)
        _prefetched(schedule, "holidays", self.holidays)
        return schedule


@dataclass(frozen=True, slots=True)
class NumberConfig:
    """Everything `number_for_incoming` loads, as values."""

    number: Row
    tenant: Row
    entry_menu: Row | None
    entry_menu_hours: ScheduleConfig | None
    entry_menu_options: tuple[Row, ...]
    entry_queue: Row | None
    business_hours: ScheduleConfig | None

    @classmethod
    def of(cls, number: PhoneNumber) -> NumberConfig:
        menu = number.entry_menu
        return cls(
            number=Row.of(number),
            tenant=Row.of(number.tenant),
            entry_menu=Row.of(menu) if menu is not None else None,
            entry_menu_hours=ScheduleConfig.of(menu.business_hours) if menu else None,
            entry_menu_options=tuple(Row.of(o) for o in menu.options.all()) if menu else (),
            entry_queue=Row.of(number.entry_queue) if number.entry_queue is not None else None,
            business_hours=ScheduleConfig.of(number.business_hours),
        )

    def build(self) -> PhoneNumber:
        """A new PhoneNumber, shaped like `number_for_incoming`'s: its relations and prefetches
        are filled in, so reading them queries nothing."""
        number: PhoneNumber = self.number.build()
        number.tenant = self.tenant.build()
        number.entry_queue = self.entry_queue.build() if self.entry_queue else None
        number.business_hours = self.business_hours.build() if self.business_hours else None
        menu: IvrMenu | None = None
        if self.entry_menu is not None:
            menu = self.entry_menu.build()
            menu.business_hours = self.entry_menu_hours.build() if self.entry_menu_hours else None
            options = _prefetched(menu, "options", self.entry_menu_options)
            for option in options:
                option.menu = menu
        number.entry_menu = menu
        return number


def _prefetched(instance: models.Model, name: str, rows: tuple[Row, ...]) -> list[Any]:
    """Fill `instance.<name>.all()` as prefetch_related does (Django keeps prefetched results
    in `_prefetched_objects_cache`, which related managers read before querying)."""
    objects = [row.build() for row in rows]
    # The related manager's own queryset, so a `.filter()` on it still queries the right rows.
    queryset = getattr(instance, name).get_queryset()
    queryset._result_cache = objects
    queryset._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset
    return objects


# --- the per-process store --------------------------------------------------------------------

_MISSING = object()
_lock = threading.Lock()
_version: int | None = None
_numbers: dict[str, NumberConfig | None] = {}


_checked_at = 0.0  # _clock() at the last read of the shared version
_clock = time.monotonic


def _recheck_seconds() -> float:
    return float(getattr(settings, "TELEPHONY_CONFIG_RECHECK_SECONDS", 1.0))


def _current_version() -> int | None:
    """The shared version (read from the cache at most once per recheck interval), created when
    missing; None when the cache cannot be reached."""
    global _checked_at
    now = _clock()
    with _lock:
        if _version is not None and now - _checked_at < _recheck_seconds():
            return _version
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            # A nanosecond clock, so a Redis that lost the key never repeats an old version.
            cache.add(VERSION_KEY, time.time_ns(), timeout=None)
            version = cache.get(VERSION_KEY)
    except Exception:  # any cache failure: read the database instead
        logger.warning("routing configuration cache unavailable", exc_info=True)
        return None
    with _lock:
        _checked_at = now
    return version


def incoming_number(number: str) -> PhoneNumber | None:
    """`number_for_incoming(number)` without queries while the configuration is unchanged.

    Returns new instances on every call, so callers may set attributes on them freely.
    """
    global _version
    version = _current_version()
    if version is None:
        return number_for_incoming(number)
    with _lock:
        if version != _version:
            _numbers.clear()
            _version = version
        config = _numbers.get(number, _MISSING)
    if config is _MISSING:
        loaded = number_for_incoming(number)
        config = NumberConfig.of(loaded) if loaded is not None else None
        with _lock:
            if _version == version:
                if len(_numbers) >= MAX_NUMBERS:
                    _numbers.clear()
                _numbers[number] = config
    return config.build() if config is not None else None


def config_changed() -> None:
    """Make every process reload routing configuration on its next call."""
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        try:
            cache.incr(VERSION_KEY)
        except ValueError:  # no version yet: any new one differs from what was cached
            cache.add(VERSION_KEY, time.time_ns(), timeout=None)
    except Exception:  # an edit must not fail because the cache is down
        logger.warning("could not invalidate routing configuration", exc_info=True)
    global _checked_at
    with _lock:
        _numbers.clear()
        _checked_at = 0.0  # read the new version on the next call


def clear_local() -> None:
    """Forget what this process holds (tests)."""
    global _version, _checked_at
    with _lock:
        _numbers.clear()
        _version = None
        _checked_at = 0.0


def _on_change(sender: type[models.Model], **kwargs: Any) -> None:
    config_changed()


def connect_receivers() -> None:
    """Bump the version when any model a number's routing configuration is made of changes."""
    watched = (
        PhoneNumber,
        IvrMenu,
        IvrOption,
        BusinessHours,
        BusinessHoursRule,
        Holiday,
        Tenant,
        Queue,
        QueueVoiceSettings,
    )
    for model in watched:
        for signal in (post_save, post_delete):
            signal.connect(_on_change, sender=model, dispatch_uid=f"config-cache-{model.__name__}")
