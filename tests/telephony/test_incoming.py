"""An incoming call: signature gate, bad input, the IVR answer, idempotency, query count."""

from __future__ import annotations

import logging
from datetime import date, time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import BusinessHours, BusinessHoursRule, Holiday, TimelineEntry
from telephony.models import Call, CallEvent, IvrAction, IvrOption, PhoneNumber
from tests.crm.factories import ContactFactory, ContactIdentityFactory, QueueFactory
from tests.telephony.conftest import CALLER, NUMBER, call_params, new_call_sid

INCOMING = "/hooks/twilio/voice/"
pytestmark = pytest.mark.django_db


def test_a_forged_signature_is_refused_and_nothing_is_written(twilio_post, phone_number):
    # given a request signed with the wrong token
    params = call_params(new_call_sid())
    from tests.telephony.conftest import sign

    forged = sign("http://localhost:8000" + INCOMING, params, token="not-the-token")

    # when it is posted
    response = twilio_post(INCOMING, params, signature=forged)

    # then it is refused and no call exists
    assert response.status_code == 403
    assert Call.objects.count() == 0
    assert CallEvent.objects.count() == 0


def test_an_unsigned_request_is_refused(client, phone_number):
    response = client.post(INCOMING, call_params(new_call_sid()))
    assert response.status_code == 403
    assert Call.objects.count() == 0


def test_only_post_is_accepted(client):
    assert client.get(INCOMING).status_code == 405


def test_a_signature_over_another_url_is_refused(twilio_post, phone_number):
    # given a valid signature for the status URL, replayed against the incoming URL
    from tests.telephony.conftest import sign

    params = call_params(new_call_sid())
    signature = sign("http://localhost:8000/hooks/twilio/voice/status/", params)

    assert twilio_post(INCOMING, params, signature=signature).status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"From": CALLER, "To": NUMBER},
        {"CallSid": "not-a-sid", "From": CALLER, "To": NUMBER},
        {"CallSid": "CA" + "0" * 32, "To": NUMBER},
    ],
    ids=["no CallSid", "malformed CallSid", "no From"],
)
def test_missing_or_malformed_parameters_answer_400(twilio_post, phone_number, params):
    response = twilio_post(INCOMING, params)
    assert response.status_code == 400
    assert Call.objects.count() == 0


def test_an_unknown_called_number_gets_a_polite_message(twilio_post, caplog):
    # given no phone number +4570999999 is configured
    params = call_params(new_call_sid(), To="+4570999999")

    # when a call to it comes in
    with caplog.at_level(logging.WARNING, logger="telephony"):
        response = twilio_post(INCOMING, params)

    # then the caller hears a message and the call ends; a warning is logged; no call row
    body = response.content.decode()
    assert response.status_code == 200
    assert "<Say" in body
    assert "not in service" in body
    assert "<Hangup />" in body
    assert "+4570999999" in caplog.text
    assert Call.objects.count() == 0


def test_an_incoming_call_is_answered_with_the_menu_in_the_tenants_language(
    twilio_post, phone_number, main_menu, tenant
):
    # given a caller who is a known contact
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, value=CALLER)
    call_sid = new_call_sid()

    # when the call comes in
    response = twilio_post(INCOMING, call_params(call_sid))

    # then the greeting is spoken in Danish inside a one-key Gather posting to the gather URL
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert '<Gather action="http://localhost:8000/hooks/twilio/voice/gather/' in body
    assert 'numDigits="1"' in body
    assert 'timeout="4"' in body
    assert 'language="da-DK"' in body
    assert "Velkommen til Nordlys" in body
    # the call is recorded with the matched contact (screen pop) and a timeline entry
    call = Call.objects.get(sid=call_sid)
    assert call.tenant == tenant
    assert call.contact == contact
    assert call.phone_number == phone_number
    assert call.from_number == CALLER
    entry = TimelineEntry.objects.get(contact=contact)
    assert entry.kind == "call.received"
    assert entry.ref_type == "telephony.call"
    assert entry.ref_id == str(call.pk)


def test_an_unknown_caller_gets_a_call_without_contact(twilio_post, phone_number):
    call_sid = new_call_sid()
    twilio_post(INCOMING, call_params(call_sid, From="anonymous"))
    assert Call.objects.get(sid=call_sid).contact is None


def test_a_duplicate_delivery_answers_the_same_twiml_and_writes_nothing(
    twilio_post, phone_number, tenant
):
    # given a call that came in once
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, value=CALLER)
    params = call_params(new_call_sid())
    first = twilio_post(INCOMING, params).content

    # when Twilio delivers it again
    second = twilio_post(INCOMING, params).content

    # then the answer is identical and no new rows appear
    assert second == first
    assert Call.objects.count() == 1
    assert TimelineEntry.objects.filter(kind="call.received").count() == 1


def test_polish_tenant_menus_speak_polish(twilio_post, other_tenant):
    # given a Polish tenant's number with a menu in the tenant's language
    from telephony.models import IvrMenu

    menu = IvrMenu.objects.create(tenant=other_tenant, name="Menu", greeting_text="Witamy.")
    PhoneNumber.objects.create(
        tenant=other_tenant, number="+48221234567", name="Infolinia", entry_menu=menu
    )

    response = twilio_post(INCOMING, call_params(new_call_sid(), To="+48221234567"))

    assert 'language="pl-PL"' in response.content.decode()


def _closed_hours(tenant) -> BusinessHours:
    """Open only on Sundays 00:00-00:01 (closed at practically any test moment)."""
    hours = BusinessHours.objects.create(
        tenant=tenant, name="Rarely", time_zone="Europe/Copenhagen"
    )
    BusinessHoursRule.objects.create(schedule=hours, weekday=6, opens=time(0), closes=time(0, 1))
    return hours


def test_after_hours_the_menus_closed_branch_answers(twilio_post, phone_number, main_menu, tenant):
    # given the menu's schedule is closed and its after-hours branch is voicemail
    main_menu.business_hours = _closed_hours(tenant)
    main_menu.after_hours_action = IvrAction.VOICEMAIL
    main_menu.save()
    call_sid = new_call_sid()

    # when a call comes in
    body = twilio_post(INCOMING, call_params(call_sid)).content.decode()

    # then the caller is asked for a message instead of hearing the menu
    assert "<Record" in body
    assert "<Gather" not in body
    assert Call.objects.get(sid=call_sid).after_hours is True


def test_after_hours_without_a_branch_the_closed_message_is_said(
    twilio_post, phone_number, main_menu, tenant
):
    phone_number.business_hours = _closed_hours(tenant)
    phone_number.save()

    body = twilio_post(INCOMING, call_params(new_call_sid())).content.decode()

    assert "Vi har lukket" in body
    assert "<Hangup />" in body


def _open_hours(tenant) -> BusinessHours:
    """Open around the clock every day (a rule from midnight to midnight), one past holiday."""
    hours = BusinessHours.objects.create(tenant=tenant, name="Always", time_zone="Europe/Warsaw")
    for weekday in range(7):
        BusinessHoursRule.objects.create(
            schedule=hours, weekday=weekday, opens=time(0), closes=time(0)
        )
    Holiday.objects.create(schedule=hours, date=date(2020, 12, 24), name="Juleaften")
    return hours


def _incoming_queries(twilio_post) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = twilio_post(INCOMING, call_params(new_call_sid()))
    assert response.status_code == 200
    return len(captured)


def test_the_incoming_webhook_costs_a_constant_number_of_queries(
    twilio_post, phone_number, main_menu, tenant
):
    # given a known caller, one menu option and one other number
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, value=CALLER)
    phone_number.business_hours = _open_hours(tenant)
    phone_number.save()
    few = _incoming_queries(twilio_post)

    # when the tenant grows: more options, numbers, contacts, holidays
    for digit in "345678":
        IvrOption.objects.create(menu=main_menu, digit=digit, action=IvrAction.HANGUP)
    for n in range(10):
        PhoneNumber.objects.create(
            tenant=tenant,
            number=f"+457010{n:04d}",
            name=f"n{n}",
            entry_queue=QueueFactory(tenant=tenant),
        )
        ContactIdentityFactory(contact=ContactFactory(tenant=tenant))
    many = _incoming_queries(twilio_post)

    # then the incoming webhook costs the same, and few queries at all
    assert "<Gather" in twilio_post(INCOMING, call_params(new_call_sid())).content.decode()
    assert many == few, f"{few} queries before, {many} after"
    assert few <= 14
    # and once the number's configuration is cached (no edit since the last call), only the
    # caller lookup and the writes remain (savepoint, call, timeline entry): every call used to
    # load the number, its menu, options and schedules, and look the CallSid up first (10
    # queries here); the cold bound above stays for the first call after an edit
    warm = _incoming_queries(twilio_post)
    assert warm <= 5, f"{warm} queries with the configuration cached"
