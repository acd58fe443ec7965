"""The IVR: key presses, spoken keywords, retries, sub-menus, forwarding, hang-up."""

from __future__ import annotations

import re

import pytest

from crm.models import WorkItem
from telephony.models import Call, CallOutcome, IvrAction, IvrMenu, IvrOption
from tests.telephony.conftest import call_params, new_call_sid

pytestmark = pytest.mark.django_db


def gather_url(body: str) -> str:
    return re.search(r'<Gather action="([^"]+)"', body).group(1)


@pytest.fixture
def answered(twilio_post, phone_number):
    """A call that came in; returns (CallSid, the gather action URL of its greeting)."""
    call_sid = new_call_sid()
    body = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()
    return call_sid, gather_url(body)


def test_pressing_the_queue_key_puts_the_caller_in_the_queue(twilio_post, answered, support_queue):
    call_sid, action = answered

    # when the caller presses 1
    body = twilio_post(action, call_params(call_sid, Digits="1")).content.decode()

    # then they are enqueued in the provider queue of "Support", with wait and action URLs
    call = Call.objects.get(sid=call_sid)
    assert f">cc-{support_queue.pk}</Enqueue>" in body
    assert f'waitUrl="http://localhost:8000/hooks/twilio/voice/calls/{call.pk}/queue/wait/"' in body
    assert f'action="http://localhost:8000/hooks/twilio/voice/calls/{call.pk}/queue/exit/"' in body
    # and a voice work item waits in the routing engine, pointing at the call
    item = call.work_item
    assert item.queue == support_queue
    assert (item.kind, item.channel_kind) == ("call", "voice")
    assert (item.ref_type, item.ref_id) == ("telephony.call", str(call.pk))
    assert call.queue == support_queue
    assert call.queued_at == item.enqueued_at


def test_a_repeated_queue_choice_creates_one_work_item(twilio_post, answered):
    call_sid, action = answered
    first = twilio_post(action, call_params(call_sid, Digits="1")).content
    second = twilio_post(action, call_params(call_sid, Digits="1")).content
    assert first == second
    assert WorkItem.objects.count() == 1


def test_a_spoken_keyword_chooses_its_option(twilio_post, phone_number, main_menu):
    # given option 2 may also be chosen by saying "besked"
    IvrOption.objects.filter(menu=main_menu, digit="2").update(speech_keyword="besked")
    call_sid = new_call_sid()
    greeting = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()
    assert 'input="dtmf speech"' in greeting

    # when the caller says it
    body = twilio_post(
        gather_url(greeting), call_params(call_sid, SpeechResult="Jeg vil lægge en besked")
    ).content.decode()

    # then they are asked for a voicemail
    assert "<Record" in body


def test_an_invalid_key_repeats_the_menu_with_the_invalid_message(twilio_post, answered):
    call_sid, action = answered

    body = twilio_post(action, call_params(call_sid, Digits="7")).content.decode()

    assert "Beklager, det er ikke et gyldigt valg." in body
    assert gather_url(body).endswith(f"/gather/{Call.objects.get().menu_id}/1/")


def test_silence_repeats_with_the_timeout_message_then_ends_politely(twilio_post, answered):
    call_sid, action = answered

    # when the caller stays silent three times (max retries 2)
    first = twilio_post(action, call_params(call_sid)).content.decode()
    second = twilio_post(gather_url(first), call_params(call_sid)).content.decode()
    third = twilio_post(gather_url(second), call_params(call_sid)).content.decode()

    # then they hear the timeout message twice, then a polite goodbye
    assert "vi hørte ikke dit valg" in first
    assert "vi hørte ikke dit valg" in second
    assert "<Gather" not in third
    assert "Farvel" in third
    assert "<Hangup />" in third
    assert Call.objects.get(sid=call_sid).outcome == CallOutcome.ENDED_IN_IVR


def test_a_submenu_option_answers_the_submenu(twilio_post, phone_number, main_menu, tenant):
    # given 3 leads to an English sub-menu
    sub = IvrMenu.objects.create(
        tenant=tenant, name="English", greeting_text="Press 1 for support.", language="en"
    )
    IvrOption.objects.create(menu=main_menu, digit="3", action=IvrAction.SUBMENU, target_menu=sub)
    call_sid = new_call_sid()
    greeting = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()

    body = twilio_post(gather_url(greeting), call_params(call_sid, Digits="3")).content.decode()

    assert "Press 1 for support." in body
    assert 'language="en-US"' in body
    assert gather_url(body).endswith(f"/gather/{sub.pk}/0/")
    assert Call.objects.get(sid=call_sid).menu == sub


def test_an_external_number_option_forwards_the_call(twilio_post, phone_number, main_menu):
    IvrOption.objects.create(
        menu=main_menu, digit="4", action=IvrAction.EXTERNAL, target_number="+4533445566"
    )
    call_sid = new_call_sid()
    greeting = twilio_post("/hooks/twilio/voice/", call_params(call_sid)).content.decode()

    body = twilio_post(gather_url(greeting), call_params(call_sid, Digits="4")).content.decode()

    assert "<Dial" in body
    assert "+4533445566</Dial>" in body
    assert Call.objects.get(sid=call_sid).outcome == CallOutcome.FORWARDED


def test_the_hangup_option_says_goodbye(twilio_post, answered):
    call_sid, action = answered
    body = twilio_post(action, call_params(call_sid, Digits="9")).content.decode()
    assert "Tak for dit opkald" in body
    assert "<Hangup />" in body


def test_a_gather_for_an_unknown_call_is_404(twilio_post, answered):
    _, action = answered
    assert twilio_post(action, call_params(new_call_sid(), Digits="1")).status_code == 404
