"""After-call work: the timer, dispositions, notes, tickets and the contact's timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Note, Presence, Ticket, TimelineEntry, WorkItem
from crm.services.presence import agent_set_presence
from telephony.incall_tasks import call_ended, wrapup_expire
from telephony.models import Call, CallEvent, DispositionCode
from telephony.services.incall import CallConflict, call_wrapup
from tests.crm.factories import ContactFactory, TicketFactory
from tests.telephony import incall_support
from tests.telephony.conftest import call_params, new_call_sid
from tests.telephony.incall_support import (
    answered_call,
    api,
    available_agent,
    disposition,
    known_caller,
    supervisor,
)

pytestmark = pytest.mark.django_db
clean_log = incall_support.clean_log  # the fixture


def hang_up(twilio_post, answered) -> None:
    """The agent's leg ends: Twilio requests the ring URL's Dial action."""
    body = twilio_post(
        answered.dial_url,
        call_params(answered.call.sid, DialCallStatus="completed", DialCallDuration="60"),
    ).content.decode()
    assert "<Hangup />" in body


def start_of_wrapup(call: Call, agent) -> CallEvent:
    return CallEvent.objects.get(key=f"acw:{call.pk}:{agent.pk}:start")


def test_the_agent_leg_ending_starts_after_call_work_and_holds_back_new_calls(
    twilio_post, phone_number, tenant, clean_log
):
    # given an agent on a call and, meanwhile, a second caller waiting
    answered = answered_call(twilio_post, tenant)
    agent = answered.agent
    waiting_sid = new_call_sid()
    twilio_post("/hooks/twilio/voice/", call_params(waiting_sid))
    twilio_post(
        f"/hooks/twilio/voice/gather/{answered.call.menu_id}/0/",
        call_params(waiting_sid, Digits="1"),
    )
    waiting = Call.objects.get(sid=waiting_sid)
    assert waiting.work_item.status == WorkItem.Status.WAITING

    # when the agent's leg ends
    hang_up(twilio_post, answered)

    # then the agent is in after-call work for this call, and the waiting caller is not offered
    agent.refresh_from_db()
    assert agent.presence == Presence.AFTER_CALL_WORK
    assert agent.presence_reason == f"call:{answered.call.pk}"
    waiting.work_item.refresh_from_db()
    assert waiting.work_item.status == WorkItem.Status.WAITING
    assert start_of_wrapup(answered.call, agent)

    # when they finish the wrap-up
    disposition(tenant)
    response = api(agent.user).post(
        f"/api/v1/calls/{answered.call.pk}/wrapup/", {"disposition": "resolved"}
    )

    # then they are available and the waiting caller is offered to them at once
    assert response.status_code == 200, response.content
    agent.refresh_from_db()
    assert agent.presence == Presence.AVAILABLE
    waiting.work_item.refresh_from_db()
    assert waiting.work_item.status == WorkItem.Status.OFFERED


def test_wrapup_sets_disposition_note_and_opens_a_ticket_on_the_timeline(
    twilio_post, phone_number, tenant, clean_log
):
    # given a known caller whose call the agent just ended
    contact = known_caller(tenant)
    answered = answered_call(twilio_post, tenant)
    hang_up(twilio_post, answered)
    CallEvent.objects.filter(key=f"acw:{answered.call.pk}:{answered.agent.pk}:start").update(
        received_at=timezone.now() - timedelta(seconds=25)
    )
    disposition(tenant, "needs_followup", "Needs follow-up")

    # when the agent wraps up with a note and asks for a ticket
    response = api(answered.agent.user).post(
        f"/api/v1/calls/{answered.call.pk}/wrapup/",
        {"disposition": "needs_followup", "note": "Wants a new meter", "open_ticket": True},
    )

    # then the call has the disposition, the note, the ticket, and its wrap-up time
    assert response.status_code == 200, response.content
    call = Call.objects.select_related("disposition", "ticket").get(pk=answered.call.pk)
    assert call.disposition.code == "needs_followup"
    assert call.wrapup_note == "Wants a new meter"
    assert call.wrapup_seconds == 25
    assert call.ticket.contact == contact
    assert call.ticket.subject == f"Call from {call.from_number}"
    assert Note.objects.get(contact=contact).body == "Wants a new meter"
    # and the contact's timeline shows the call with its disposition and the ticket
    entry = TimelineEntry.objects.get(contact=contact, kind="call.wrapped_up")
    assert entry.summary == f"Call with {call.from_number}: Needs follow-up"
    assert entry.ticket == call.ticket
    assert entry.ref_type == "telephony.call"
    assert entry.data["disposition"] == "needs_followup"


def test_wrapup_links_an_existing_ticket_of_the_caller(
    twilio_post, phone_number, tenant, other_tenant, clean_log
):
    contact = known_caller(tenant)
    answered = answered_call(twilio_post, tenant)
    hang_up(twilio_post, answered)
    disposition(tenant)
    url = f"/api/v1/calls/{answered.call.pk}/wrapup/"
    client = api(answered.agent.user)
    # another tenant's ticket, or another customer's, is refused
    foreign = TicketFactory(tenant=other_tenant)
    assert client.post(url, {"disposition": "resolved", "ticket": foreign.pk}).status_code == 400
    someone_else = TicketFactory(tenant=tenant, contact=ContactFactory(tenant=tenant))
    response = client.post(url, {"disposition": "resolved", "ticket": someone_else.pk})
    assert response.status_code == 400
    # the caller's own ticket is linked
    own = TicketFactory(tenant=tenant, contact=contact)
    response = client.post(url, {"disposition": "resolved", "ticket": own.pk})
    assert response.status_code == 200, response.content
    assert response.json()["ticket"] == own.pk
    assert Ticket.objects.filter(tenant=tenant).count() == 2  # none opened


@pytest.mark.parametrize("code", ["nonsense", "retired", "foreign"])
def test_an_unknown_or_retired_disposition_is_refused(
    twilio_post, phone_number, tenant, other_tenant, clean_log, code
):
    answered = answered_call(twilio_post, tenant)
    hang_up(twilio_post, answered)
    DispositionCode.objects.create(tenant=tenant, code="retired", label="Old", is_active=False)
    DispositionCode.objects.create(tenant=other_tenant, code="foreign", label="Theirs")
    response = api(answered.agent.user).post(
        f"/api/v1/calls/{answered.call.pk}/wrapup/", {"disposition": code}
    )
    assert response.status_code == 400
    assert "disposition" in response.json()["error"]["fields"]
    answered.agent.refresh_from_db()
    assert answered.agent.presence == Presence.AFTER_CALL_WORK


def test_wrapping_up_twice_or_while_still_connected_conflicts(
    twilio_post, phone_number, tenant, clean_log
):
    answered = answered_call(twilio_post, tenant)
    disposition(tenant)
    url = f"/api/v1/calls/{answered.call.pk}/wrapup/"
    client = api(answered.agent.user)
    # still talking
    response = client.post(url, {"disposition": "resolved"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "still_connected"
    hang_up(twilio_post, answered)
    assert client.post(url, {"disposition": "resolved"}).status_code == 200
    again = client.post(url, {"disposition": "resolved"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_wrapped_up"


def test_the_timer_makes_the_agent_available_unless_they_finished_or_left(
    twilio_post, phone_number, tenant, clean_log
):
    # given an agent in after-call work for 60 s
    answered = answered_call(twilio_post, tenant)
    hang_up(twilio_post, answered)
    start_of_wrapup(answered.call, answered.agent)
    CallEvent.objects.filter(key=f"acw:{answered.call.pk}:{answered.agent.pk}:start").update(
        received_at=timezone.now() - timedelta(seconds=60)
    )

    # when the timer runs out (twice: a repeated task changes nothing)
    assert wrapup_expire(call_id=answered.call.pk, agent_id=answered.agent.pk) is True
    assert wrapup_expire(call_id=answered.call.pk, agent_id=answered.agent.pk) is False

    # then the agent is available and the wrap-up time is counted once, without a disposition
    answered.agent.refresh_from_db()
    assert answered.agent.presence == Presence.AVAILABLE
    call = Call.objects.get(pk=answered.call.pk)
    assert call.wrapup_seconds == 60
    assert call.disposition is None
    # and wrapping up afterwards is a conflict (the work is over)
    disposition(tenant)
    with pytest.raises(CallConflict):
        call_wrapup(call=call, agent=answered.agent, disposition="resolved")


def test_the_timer_leaves_an_agent_who_went_on_break_alone(
    twilio_post, phone_number, tenant, clean_log
):
    answered = answered_call(twilio_post, tenant)
    hang_up(twilio_post, answered)
    agent_set_presence(agent=answered.agent, presence=Presence.BREAK, reason="lunch")
    wrapup_expire(call_id=answered.call.pk, agent_id=answered.agent.pk)
    answered.agent.refresh_from_db()
    assert answered.agent.presence == Presence.BREAK


def test_without_wrapup_time_the_agent_stays_available(
    twilio_post, phone_number, tenant, clean_log, settings
):
    settings.TELEPHONY_WRAPUP_SECONDS = 0
    answered = answered_call(twilio_post, tenant)
    hang_up(twilio_post, answered)
    answered.agent.refresh_from_db()
    assert answered.agent.presence == Presence.AVAILABLE
    # and a disposition can still be recorded
    disposition(tenant)
    response = api(answered.agent.user).post(
        f"/api/v1/calls/{answered.call.pk}/wrapup/", {"disposition": "resolved"}
    )
    assert response.status_code == 200, response.content


def test_a_caller_hanging_up_on_hold_ends_the_hold_and_starts_wrapup(
    twilio_post, phone_number, tenant, clean_log
):
    # given a call on hold for 30 s
    answered = answered_call(twilio_post, tenant)
    assert (
        api(answered.agent.user).post(f"/api/v1/calls/{answered.call.pk}/hold/").status_code == 200
    )
    Call.objects.filter(pk=answered.call.pk).update(
        hold_started_at=timezone.now() - timedelta(seconds=30)
    )
    # when the caller hangs up (completed status; no Dial action comes for a held call)
    twilio_post(
        "/hooks/twilio/voice/status/",
        call_params(answered.call.sid, CallStatus="completed", SequenceNumber="5"),
    )
    call_ended(call_id=answered.call.pk)  # the task the call.ended subscriber schedules
    # then the hold time is counted and the agent is in after-call work
    call = Call.objects.get(pk=answered.call.pk)
    assert call.hold_started_at is None
    assert 29 <= call.hold_seconds <= 31
    answered.agent.refresh_from_db()
    assert answered.agent.presence == Presence.AFTER_CALL_WORK


def test_a_supervisor_wraps_up_for_the_agent(twilio_post, phone_number, tenant, clean_log):
    answered = answered_call(twilio_post, tenant)
    hang_up(twilio_post, answered)
    disposition(tenant)
    url = f"/api/v1/calls/{answered.call.pk}/wrapup/"
    assert (
        api(available_agent(tenant).user).post(url, {"disposition": "resolved"}).status_code == 403
    )
    response = api(supervisor(tenant)).post(url, {"disposition": "resolved"})
    assert response.status_code == 200, response.content
    answered.agent.refresh_from_db()
    assert answered.agent.presence == Presence.AVAILABLE
