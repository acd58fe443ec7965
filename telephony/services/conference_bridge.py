"""Ringing an agent through the call's conference (`TELEPHONY_CONFERENCE_BRIDGE` on).

The caller waits in the queue as before. The ring task places the agent's leg with
`create_call(to="client:agent_<user id>", url=<agent conference URL>)`; when the agent answers,
Twilio fetches that URL: the offer is accepted, the agent joins `cc-call-<id>`, and the caller's
leg is redirected (after commit, through the `call_redirect` task) into the same conference with
`endConferenceOnExit`. An agent leg that is not answered declines the offer; the caller never
left the queue, so they keep their place. When the agent's leg completes after answering, their
after-call work starts and the work item is finished.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from crm.models import Offer, WorkItem
from crm.services.routing import work_item_finish
from telephony import twiml
from telephony.models import Call
from telephony.providers import get_voice_provider
from telephony.services.after_call import after_call_twiml
from telephony.services.common import (
    WebhookError,
    agent_identity,
    call_for_sid,
    event_record,
    hook_url,
)
from telephony.services.conference import conference_name, conference_status_url
from telephony.services.incall import _redirect_later, call_agent_leg_ended
from telephony.services.timings import agent_leg_completed

NOT_ANSWERED = frozenset({"no-answer", "busy", "failed", "canceled"})


def conference_ring_agent(*, call: Call, offer: Offer, timeout: int) -> str:
    """Place the agent's leg (outside any transaction: one provider request). Returns its sid."""
    return get_voice_provider().create_call(
        to=f"client:{agent_identity(offer.agent.user_id)}",
        from_=call.to_number,
        url=hook_url("voice-conference-agent", call.pk, offer.pk),
        status_callback=hook_url("voice-conference-agent-leg", call.pk, offer.pk),
        timeout=timeout,
    )


def _call_and_offer(call_id: int, offer_id: int, *, lock: bool = False) -> tuple[Call, Offer]:
    calls = Call.objects.select_related("tenant")
    if lock:
        calls = calls.select_for_update(of=("self",))
    call = calls.filter(pk=call_id).first()
    offer = (
        Offer.objects.select_related("agent")
        .filter(pk=offer_id, work_item_id=getattr(call, "work_item_id", None))
        .first()
    )
    if call is None or offer is None:
        raise WebhookError(f"unknown call {call_id} or offer {offer_id}", status=404)
    return call, offer


def conference_agent_answered(*, call_id: int, offer_id: int, leg_sid: str) -> str:
    """The agent answered the leg we placed: accept the offer, put the agent into the
    conference and move the caller there. A late answer (offer gone, call over) hangs up."""
    from telephony.services.bridging import _answered  # bridging imports this module

    with transaction.atomic():
        call, offer = _call_and_offer(call_id, offer_id, lock=True)
        if call.is_over or offer.status not in (Offer.Status.PENDING, Offer.Status.ACCEPTED):
            return twiml.hangup()
        if event_record(
            key=f"conference-agent:{leg_sid}",
            kind="conference_agent",
            call=call,
            call_sid=leg_sid,
            payload={"offer_id": offer.pk, "agent_id": offer.agent_id},
        ):
            _answered(call=call, offer=offer, at=None)
            _redirect_later(call, url=hook_url("voice-conference-caller", call.pk))
    return twiml.conference_join(
        name=conference_name(call),
        label=f"agent-{offer.agent_id}",
        status_url=conference_status_url(call),
        # The room outlives the agent (a warm transfer hands the caller on); when the call's
        # agent leaves, `conference._agent_left` moves the caller on instead.
        end_on_exit=False,
    )


def conference_agent_leg_status(
    *,
    call_id: int,
    offer_id: int,
    leg_sid: str,
    status: str,
    sequence: int | None,
    at: datetime | None,
    payload: dict,
) -> None:
    """Status callback of the agent leg we placed. Not answered → the offer is declined (the
    caller is still queued); completed after an answer → talk time, after-call work, the work
    item finished. Keyed on the leg's SequenceNumber, so duplicates are harmless."""
    from telephony.services.bridging import _answered, _not_answered

    with transaction.atomic():
        call, offer = _call_and_offer(call_id, offer_id, lock=True)
        key = f"leg:{leg_sid}:{sequence if sequence is not None else status}"
        if not event_record(
            key=key, kind="agent_leg", call=call, call_sid=leg_sid, payload=payload
        ):
            return
        if status in ("in-progress", "answered") and at is not None:
            _answered(call=call, offer=offer, at=at)
        elif status in NOT_ANSWERED:
            _not_answered(call=call, offer=offer)
        elif status == "completed":
            agent_leg_completed(call=call)
            call.refresh_from_db()
            answered = call.events.filter(kind="conference_agent", call_sid=leg_sid).exists()
            if not answered:
                _not_answered(call=call, offer=offer)
                return
            call_agent_leg_ended(call=call, agent=offer.agent)
            item = call.work_item
            if item is not None and item.status == WorkItem.Status.ASSIGNED:
                work_item_finish(item=item)


def conference_caller_twiml(*, call_sid: str, call_id: int) -> str:
    """Where the caller's leg is redirected once the agent answered: into the conference,
    ending it when the caller leaves."""
    call = call_for_sid(call_sid, call_id=call_id)
    return twiml.conference_join(
        name=conference_name(call),
        label="caller",
        status_url=conference_status_url(call),
        end_on_exit=True,
        action_url=hook_url("voice-conference-done", call.pk),
    )


def conference_caller_done(*, call_sid: str, call_id: int) -> str:
    """The caller's `<Dial><Conference>` ended (the agent left, or the caller hung up): a
    post-call survey may keep them on the line, else hang up."""
    call = call_for_sid(call_sid, call_id=call_id)
    return after_call_twiml(call) or twiml.hangup()
