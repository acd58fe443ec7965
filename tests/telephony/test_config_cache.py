"""The per-process cache of a number's routing configuration: edits are seen on the next call,
and a warm cache spares the incoming-call webhook its configuration queries."""

from __future__ import annotations

import zoneinfo
from datetime import time
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import BusinessHours, BusinessHoursRule, Holiday
from telephony import config_cache
from telephony.models import IvrMenu, PhoneNumber
from tests.telephony.conftest import NUMBER, call_params, new_call_sid

INCOMING = "/hooks/twilio/voice/"
CONFIG_TABLES = ("telephony_phonenumber", "telephony_ivr", "crm_businesshours", "crm_holiday")
pytestmark = pytest.mark.django_db


def _answer(twilio_post) -> str:
    response = twilio_post(INCOMING, call_params(new_call_sid()))
    assert response.status_code == 200
    return response.content.decode()


def _config_queries(twilio_post) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        _answer(twilio_post)
    return [q["sql"] for q in captured if any(t in q["sql"] for t in CONFIG_TABLES)]


def test_a_second_call_reads_no_configuration_from_the_database(
    twilio_post, phone_number, main_menu
):
    # given a first call that loaded the number's configuration
    assert _config_queries(twilio_post)

    # when the next call comes in
    queries = _config_queries(twilio_post)

    # then the number, menu, options and schedules come from the process's cache
    assert queries == []


def test_a_greeting_edited_in_the_admin_is_heard_on_the_next_call(
    twilio_post, phone_number, main_menu
):
    # given a call that was answered with the menu's greeting (the cache is warm)
    assert "Velkommen til Nordlys" in _answer(twilio_post)

    # when a manager saves a new greeting
    main_menu.greeting_text = "Hej og velkommen til sommerkampagnen."
    main_menu.save()

    # then the very next call hears it
    body = _answer(twilio_post)
    assert "sommerkampagnen" in body
    assert "Velkommen til Nordlys" not in body


def test_a_holiday_added_today_closes_the_number_on_the_next_call(
    twilio_post, phone_number, main_menu, tenant
):
    # given a number open around the clock, answered once (the cache is warm)
    hours = BusinessHours.objects.create(tenant=tenant, name="Always", time_zone="Europe/Warsaw")
    for weekday in range(7):
        BusinessHoursRule.objects.create(
            schedule=hours, weekday=weekday, opens=time(0), closes=time(0)
        )
    phone_number.business_hours = hours
    phone_number.save()
    assert "<Gather" in _answer(twilio_post)

    # when a manager adds today (in the schedule's time zone) as a holiday
    today = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo("Europe/Warsaw")).date()
    Holiday.objects.create(schedule=hours, date=today, name="Lukket")

    # then the next call hears the closed message
    body = _answer(twilio_post)
    assert "Vi har lukket" in body
    assert "<Gather" not in body

    # and deleting the holiday opens the number again
    Holiday.objects.filter(schedule=hours, date=today).get().delete()
    assert "<Gather" in _answer(twilio_post)


def test_an_edit_made_by_another_process_is_seen_on_the_next_call(
    twilio_post, phone_number, main_menu, settings
):
    # given this process answered a call (its cache is warm), and checks the shared version on
    # every call (by default at most once a second)
    settings.TELEPHONY_CONFIG_RECHECK_SECONDS = 0
    assert "Velkommen til Nordlys" in _answer(twilio_post)

    # when another process changes the greeting: the row changes, and that process's receiver
    # bumps the shared version (here by hand, since no signal reaches this process)
    IvrMenu.objects.filter(pk=main_menu.pk).update(greeting_text="Ny velkomst fra kontoret.")
    cache.incr(config_cache.VERSION_KEY)

    # then this process reloads the configuration for its next call
    assert "Ny velkomst fra kontoret." in _answer(twilio_post)


def test_every_request_gets_its_own_instances(phone_number, main_menu):
    # given a number loaded twice from a warm cache
    first = config_cache.incoming_number(NUMBER)
    first.entry_menu.greeting_text = "changed by one request"
    first.tenant.language = "pl"

    # when the next request reads it
    with CaptureQueriesContext(connection) as captured:
        second = config_cache.incoming_number(NUMBER)
        options = list(second.entry_menu.options.all())

    # then it sees the stored configuration, not the first request's changes, without queries
    assert second is not first
    assert second.entry_menu.greeting_text == main_menu.greeting_text
    assert second.tenant.language == "da"
    assert [o.digit for o in options] == [o.digit for o in main_menu.options.order_by("pk")]
    assert second.pk == phone_number.pk
    assert len(captured) == 0


def test_an_unknown_number_stays_unknown_until_it_is_created(tenant, main_menu):
    # given a number nobody has configured yet, asked for once
    assert config_cache.incoming_number("+4570111222") is None

    # when a manager adds it
    PhoneNumber.objects.create(
        tenant=tenant, number="+4570111222", name="New", entry_menu=main_menu
    )

    # then the next call finds it
    found = config_cache.incoming_number("+4570111222")
    assert found is not None
    assert found.entry_menu.pk == main_menu.pk


def test_without_the_cache_calls_are_still_answered_from_the_database(
    twilio_post, phone_number, main_menu
):
    # given the shared cache cannot be reached
    with mock.patch.object(config_cache.cache, "get", side_effect=ConnectionError("down")):
        # when a call comes in
        body = _answer(twilio_post)

    # then it is answered with the menu, read from the database
    assert "Velkommen til Nordlys" in body


def test_another_processs_edit_is_seen_once_the_recheck_interval_passed(
    twilio_post, phone_number, main_menu, settings, monkeypatch
):
    # given a warm cache that re-reads the shared version at most once a minute
    settings.TELEPHONY_CONFIG_RECHECK_SECONDS = 60
    assert "Velkommen til Nordlys" in _answer(twilio_post)

    # when another process changes the greeting
    IvrMenu.objects.filter(pk=main_menu.pk).update(greeting_text="Ny velkomst fra kontoret.")
    cache.incr(config_cache.VERSION_KEY)

    # then this process keeps its configuration within the interval, and reloads after it
    assert "Velkommen til Nordlys" in _answer(twilio_post)
    later = config_cache._clock() + 61
    monkeypatch.setattr(config_cache, "_clock", lambda: later)
    assert "Ny velkomst fra kontoret." in _answer(twilio_post)
