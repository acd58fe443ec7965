"""In the call: hold, resume, mute, cold transfers, and after-call work (wrap-up).

How the provider is driven. The caller's leg is the call we know (`Call.sid`); the agent is a
`<Dial><Client>` child of it. Every change is a REST redirect of the caller's leg
(`update_call`), sent by the Celery task `telephony.incall_tasks.call_redirect` after commit,
never inside the API request:

* hold — the caller is redirected to the hold URL (hold music in a loop). The redirect ends the
  `<Dial>`, so the agent's softphone leg ends too (Twilio requests no Dial action for it).
* resume — the caller is redirected to the connect URL, which dials the agent's client again.
* transfer to an agent — the same connect URL, for another agent (rung directly, outside the
  routing engine). Unanswered, the caller goes into the call's queue instead.
* transfer to a queue — the caller is redirected to the transfer-queue URL, which gives the
  call a new routing work item in that queue (see `call_transfer_enqueue` for its place).
* transfer to a number — inline TwiML `<Dial><Number>` with the tenant's number as caller ID.
* mute — the agent's microphone is muted in the Voice JS SDK (`call.mute()`), in the browser:
  the provider is not involved, so it is only recorded as a CallEvent for the call's history.

After-call work: when an agent's leg ends for good (the Dial action reports it, a transfer hands
the caller on, or the call ends while on hold) `call_agent_leg_ended` puts the agent in
AFTER_CALL_WORK and schedules `call_wrapup_expire` TELEPHONY_WRAPUP_SECONDS later. The agent
finishes earlier with `call_wrapup` (disposition, note, ticket). Each start and end of an
agent's wrap-up is a CallEvent with a natural key, so a repeated task or request changes
nothing. Conflicts (the call has ended, nobody is connected, already wrapped up) raise
`CallConflict`; bad input raises Django's `ValidationError`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.events import publish
from crm.models import AgentProfile, ChannelKind, Presence, Queue, Ticket, WorkItem
from crm.services.presence import agent_set_presence
from crm.services.routing import work_item_finish
from crm.services.tickets import note_add, ticket_create
from crm.services.timeline import timeline_add
from crm.tenancy import Principal
from telephony import twiml
from telephony.models import Call, CallEvent, CallOutcome, DispositionCode
from telephony.providers import get_voice_provider
from telephony.services.calls import (
    REF_TYPE,
    call_work_item_attach,
    enqueue_twiml,
    voicemail_twiml,
)
from telephony.services.common import (
    agent_identity,
    call_for_sid,
    event_record,
    hook_url,
    speech_for,
)
from telephony.services.timings import agent_leg_completed, talk_seconds_refresh

ANSWERED_DIAL_STATUSES = frozenset({"completed", "answered"})


class CallConflict(Exception):
    """The call is not in a state that allows the request (the API answers 409)."""

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message)
        self.code = code


# --- shared helpers --------------------------------------------------------------------------


def _lock(call: Call) -> Call:
    return (
        Call.objects.select_for_update(of=("self",))
        .select_related("tenant", "work_item", "agent", "phone_number", "contact")
        .get(pk=call.pk)
    )


def _require_connected(call: Call) -> AgentProfile:
    if call.is_over:
        raise CallConflict("The call has ended.", code="call_ended")
    if call.answered_at is None or call.agent is None:
        raise CallConflict("No agent is connected to this call.", code="not_connected")
    return call.agent


def _record(call: Call, kind: str, payload: dict, *, key: str | None = None) -> bool:
    """A CallEvent for something done in the call; unique keys make a repeat a no-op."""
    return event_record(
        key=key or f"incall:{call.pk}:{kind}:{uuid.uuid4().hex}",
        kind=kind,
        call=call,
        call_sid=call.sid,
        payload=payload,
    )


def _redirect_later(call: Call, *, url: str | None = None, twiml_text: str | None = None) -> None:
    """Redirect the caller's leg through the provider once this transaction commits.

    The request is kept as a CallEvent (kind "redirect") first, so the task that sends it can
    run twice and send once, and the call's history shows what the provider was asked.
    """
    from telephony.incall_tasks import call_redirect  # the task module imports this one

    event = CallEvent.objects.create(
        tenant_id=call.tenant_id,
        call=call,
        call_sid=call.sid,
        kind="redirect",
        key=f"redirect:{call.pk}:{uuid.uuid4().hex}",
        payload={"url": url, "twiml": twiml_text, "sent_at": None},
    )
    transaction.on_commit(lambda: call_redirect.delay(event_id=event.pk))


def call_redirect_send(*, event_id: int) -> bool:
    """Send one recorded redirect to the provider (the Celery task). Sent at most once; a
    call that ended meanwhile is left alone. Returns True when sent now."""
    with transaction.atomic():
        event = (
            CallEvent.objects.select_for_update(of=("self",))
            .select_related("call")
            .filter(pk=event_id, kind="redirect")
            .first()
        )
        if event is None or event.payload.get("sent_at") or event.call is None:
            return False
        if event.call.is_over:
            return False
        get_voice_provider().update_call(
            call_sid=event.call.sid, url=event.payload["url"], twiml=event.payload["twiml"]
        )
        event.payload = {**event.payload, "sent_at": timezone.now().isoformat()}
        event.save(update_fields=["payload"])
    return True


def _close_hold(call: Call, now: datetime) -> int:
    """End an open hold on the (locked) call; returns its seconds (0 when not held)."""
    if call.hold_started_at is None:
        return 0
    seconds = max(0, int((now - call.hold_started_at).total_seconds()))
    call.hold_seconds = (call.hold_seconds or 0) + seconds
    call.hold_started_at = None
    return seconds


def call_is_held(call: Call) -> bool:
    return call.hold_started_at is not None


# --- hold, resume, mute ----------------------------------------------------------------------


@transaction.atomic
def call_hold(*, call: Call, actor: Principal | None = None) -> Call:
    """Put the caller on hold: hold music for them, the agent's softphone leg ends meanwhile.
    Raises CallConflict when the call has ended, nobody is connected, or it is already held."""
    locked = _lock(call)
    agent = _require_connected(locked)
    if call_is_held(locked):
        raise CallConflict("The call is already on hold.", code="already_held")
    _refuse_while_consulting(locked)
    now = timezone.now()
    locked.hold_started_at = now
    locked.save(update_fields=["hold_started_at"])
    _record(locked, "hold", {"agent_id": agent.pk, "by": _who(actor)})
    publish(
        "call.held",
        tenant_id=locked.tenant_id,
        payload={
            "call_id": locked.pk,
            "agent_id": agent.pk,
            "queue_id": locked.queue_id,
            "hold_started_at": now.isoformat(),
        },
    )
    if not _conference_update(locked, caller={"hold": True}):
        _redirect_later(locked, url=hook_url("voice-hold", locked.pk))
    return locked


@transaction.atomic
def call_resume(*, call: Call, actor: Principal | None = None) -> Call:
    """Take the caller off hold: the hold time is added to `hold_seconds` and the agent's
    softphone rings again to reconnect them. Raises CallConflict unless the call is held."""
    locked = _lock(call)
    agent = _require_connected(locked)
    if not call_is_held(locked):
        raise CallConflict("The call is not on hold.", code="not_held")
    _refuse_while_consulting(locked)
    seconds = _close_hold(locked, timezone.now())
    locked.save(update_fields=["hold_started_at", "hold_seconds"])
    _record(locked, "resume", {"agent_id": agent.pk, "hold_seconds": seconds, "by": _who(actor)})
    publish(
        "call.resumed",
        tenant_id=locked.tenant_id,
        payload={
            "call_id": locked.pk,
            "agent_id": agent.pk,
            "queue_id": locked.queue_id,
            "hold_seconds": seconds,
            "total_hold_seconds": locked.hold_seconds,
        },
    )
    if not _conference_update(locked, caller={"hold": False}):
        _redirect_later(locked, url=hook_url("voice-connect", locked.pk, agent.pk))
    return locked


def _refuse_while_consulting(call: Call) -> None:
    """During a warm transfer's consultation the caller's hold belongs to it (resuming would
    let the caller hear the agents): hold / resume wait until it is completed or cancelled."""
    from telephony.services.conference import conference_bridge_enabled

    if (
        conference_bridge_enabled()
        and CallEvent.objects.filter(call=call, kind="consult", payload__state="open").exists()
    ):
        raise CallConflict(
            "A consultation is in progress; complete or cancel the transfer first.",
            code="consulting",
        )


def _conference_update(
    call: Call, *, caller: dict | None = None, agent: dict | None = None
) -> bool:
    """With the conference bridge, hold / resume / mute are participant updates that keep the
    agent's leg up (docs/decisions/003-conference-monitoring.md, step 4). False when the call
    is not bridged through a conference (the caller's leg is redirected as before)."""
    from telephony.models import ConferenceParticipant, ParticipantRole
    from telephony.services.conference import conference_agent_leg, conference_bridge_enabled
    from telephony.services.monitoring import _request

    agent_leg = conference_agent_leg(call) if conference_bridge_enabled() else None
    if agent_leg is None:
        return False
    if caller is not None:
        caller_leg = ConferenceParticipant.objects.filter(
            call=call, role=ParticipantRole.CALLER, left_at__isnull=True
        ).first()
        if caller_leg is None:
            return False
        if caller.get("hold") and settings.TELEPHONY_HOLD_MUSIC_URL:
            caller = {**caller, "hold_url": settings.TELEPHONY_HOLD_MUSIC_URL}
        target = {"conference_sid": caller_leg.conference_sid, "call_sid": caller_leg.call_sid}
        _request(call, "participant_update", {**target, **caller}, None)
    if agent is not None:
        target = {"conference_sid": agent_leg.conference_sid, "call_sid": agent_leg.call_sid}
        _request(call, "participant_update", {**target, **agent}, None)
    return True


@transaction.atomic
def call_mute(*, call: Call, muted: bool = True, actor: Principal | None = None) -> Call:
    """Record that the agent muted (or unmuted) their microphone. Muting itself happens in the
    browser (the Voice SDK's `call.mute()`); Twilio has no REST request for it."""
    locked = _lock(call)
    agent = _require_connected(locked)
    _record(locked, "mute" if muted else "unmute", {"agent_id": agent.pk, "by": _who(actor)})
    # Bridged through a conference, the server mutes the agent's participant too (and sees it).
    _conference_update(locked, agent={"muted": muted})
    return locked


def _who(actor: Principal | None) -> str:
    return actor.label if actor is not None else "system"


# --- transfers -------------------------------------------------------------------------------


def _transfer_target(
    call: Call,
    *,
    to_agent: AgentProfile | None,
    to_queue: Queue | None,
    to_number: str | None,
) -> tuple[str, str | None]:
    """Validate the one target; returns (kind, E.164 number for `number`)."""
    targets = {"to_agent": to_agent, "to_queue": to_queue, "to_number": to_number}
    if len([name for name, value in targets.items() if value]) != 1:
        message = "Give exactly one of to_agent, to_queue or to_number."
        raise ValidationError({"non_field_errors": [message]})
    if to_agent is not None:
        if to_agent.tenant_id != call.tenant_id:
            raise ValidationError({"to_agent": ["Unknown agent."]})
        if to_agent.pk == call.agent_id:
            raise ValidationError({"to_agent": ["The call is already with this agent."]})
        return "agent", None
    if to_queue is not None:
        if to_queue.tenant_id != call.tenant_id:
            raise ValidationError({"to_queue": ["Unknown queue."]})
        if to_queue.channel_kinds and ChannelKind.VOICE not in to_queue.channel_kinds:
            raise ValidationError({"to_queue": ["This queue does not take calls."]})
        return "queue", None
    try:
        parsed = phonenumbers.parse(to_number or "", None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ValidationError({"to_number": ["Enter a valid number in E.164 form (+4512345678)."]})
    return "number", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@transaction.atomic
def call_transfer(
    *,
    call: Call,
    to_agent: AgentProfile | None = None,
    to_queue: Queue | None = None,
    to_number: str | None = None,
    actor: Principal | None = None,
) -> Call:
    """Cold transfer: hand the caller to another agent, a queue or an external number.

    The transferring agent's part ends here (their work item is finished and after-call work
    starts); a held call may be transferred (the hold ends). To an agent: their softphone is
    rung directly (not through the routing engine); should they not answer, the caller goes
    into the call's queue. To a queue: see `call_transfer_enqueue`. To a number: `<Dial>`
    with the tenant's number as caller ID; the call's outcome becomes "forwarded".
    Raises ValidationError for a bad target, CallConflict when nobody is connected.
    """
    locked = _lock(call)
    from_agent = _require_connected(locked)
    kind, number = _transfer_target(
        locked, to_agent=to_agent, to_queue=to_queue, to_number=to_number
    )
    now = timezone.now()
    _close_hold(locked, now)
    item = locked.work_item
    if item is not None and item.status == WorkItem.Status.ASSIGNED:
        work_item_finish(item=item)
    locked.agent = None
    locked.ringing_offer_id = None
    if kind == "number":
        locked.outcome = CallOutcome.FORWARDED
    locked.save()
    payload = {
        "call_id": locked.pk,
        "from_agent_id": from_agent.pk,
        "kind": kind,
        "to_agent_id": to_agent.pk if to_agent is not None else None,
        "to_queue_id": to_queue.pk if to_queue is not None else None,
        "to_number": number,
    }
    _record(locked, "transfer", {**payload, "by": _who(actor)})
    publish("call.transferred", tenant_id=locked.tenant_id, payload=payload)
    call_agent_leg_ended(call=locked, agent=from_agent)
    if kind == "agent":
        _redirect_later(locked, url=hook_url("voice-connect", locked.pk, to_agent.pk))
    elif kind == "queue":
        _redirect_later(locked, url=hook_url("voice-transfer-queue", locked.pk, to_queue.pk))
    else:
        caller_id = locked.phone_number.number if locked.phone_number else locked.to_number
        _redirect_later(
            locked,
            twiml_text=twiml.dial_number(
                speech_for(locked.tenant), number=number, caller_id=caller_id
            ),
        )
    return locked


def call_transfer_enqueue(*, call_sid: str, call_id: int, queue_id: int) -> str:
    """The transfer-queue URL: the caller gets a new work item in the queue and waits there.

    Decision on the caller's place: the new item is enqueued *now* (so the queue's maximum wait
    counts from the transfer, rather than sending an already-waited caller straight to
    voicemail) but one priority step above the item they came with, so a transferred caller
    is served before callers of the same priority who have not yet spoken to anyone.
    `Call.queued_at` keeps the first queue entry (wait metrics stay about the first wait).
    A repeated request while the item still waits changes nothing.
    """
    call = call_for_sid(call_sid, call_id=call_id)
    queue = Queue.objects.filter(pk=queue_id, tenant_id=call.tenant_id).first()
    with transaction.atomic():
        locked = _lock(call)
        current = locked.work_item
        waiting = (WorkItem.Status.WAITING, WorkItem.Status.OFFERED)
        if queue is None:
            return voicemail_twiml(call=locked, speech=speech_for(locked.tenant, locked.menu))
        if not locked.is_over and not (
            current is not None and current.queue_id == queue.pk and current.status in waiting
        ):
            if current is not None and current.status == WorkItem.Status.ASSIGNED:
                work_item_finish(item=current)  # never leave an agent's capacity taken
            item = call_work_item_attach(
                call=locked,
                queue=queue,
                priority=(current.priority if current is not None else 0) + 1,
            )
            locked.save(update_fields=["queue", "work_item"])
            _record(locked, "transfer_enqueued", {"queue_id": queue.pk, "work_item_id": item.pk})
    return enqueue_twiml(call=call, queue_id=queue.pk)


# --- connecting an agent directly (resume, transfer to an agent) ------------------------------


def _agent_of(call: Call, agent_id: int) -> AgentProfile | None:
    return (
        AgentProfile.objects.select_related("user")
        .filter(pk=agent_id, tenant_id=call.tenant_id)
        .first()
    )


def call_connect(*, call_sid: str, call_id: int, agent_id: int) -> str:
    """The connect URL: ring one agent's softphone for this caller (resume, or a transfer)."""
    call = call_for_sid(call_sid, call_id=call_id)
    agent = _agent_of(call, agent_id)
    if agent is None:
        return _unanswered_twiml(call)
    return twiml.ring_agent(
        identity=agent_identity(agent.user_id),
        timeout=settings.TELEPHONY_RING_TIMEOUT_SECONDS,
        action_url=hook_url("voice-connect-dial", call.pk, agent.pk),
        leg_status_url=hook_url("voice-connect-leg", call.pk, agent.pk),
    )


def call_connect_leg_status(
    *,
    call_id: int,
    agent_id: int,
    leg_sid: str,
    parent_sid: str,
    status: str,
    sequence: int | None,
    payload: dict,
) -> None:
    """Status callback of a directly dialled agent's leg: answered, they now have the call."""
    call = call_for_sid(parent_sid, call_id=call_id)
    key = f"connect-leg:{leg_sid}:{sequence if sequence is not None else status}"
    with transaction.atomic():
        if not event_record(
            key=key, kind="agent_leg", call=call, call_sid=leg_sid, payload=payload
        ):
            return
        if status == "completed":
            agent_leg_completed(call=call)
            return
        if status not in ("in-progress", "answered"):
            return
        locked = _lock(call)
        agent = _agent_of(locked, agent_id)
        if agent is not None and not locked.is_over and locked.agent_id != agent.pk:
            locked.agent = agent
            locked.save(update_fields=["agent"])


def call_connect_result(
    *,
    call_sid: str,
    call_id: int,
    agent_id: int,
    dial_status: str,
    payload: dict,
) -> str:
    """The connect URL's Dial action. Answered: the conversation is over, the agent goes to
    after-call work and the caller is hung up. Not answered: the caller goes into the call's
    queue (or to voicemail when the call has none) rather than waiting on hold for ever."""
    call = call_for_sid(call_sid, call_id=call_id)
    key = f"connect:{call_sid}:{payload.get('DialCallSid') or agent_id}:{dial_status}"
    answered = dial_status in ANSWERED_DIAL_STATUSES
    with transaction.atomic():
        fresh = event_record(key=key, kind="dial", call=call, call_sid=call_sid, payload=payload)
        locked = _lock(call)
        agent = _agent_of(locked, agent_id)
        if fresh and answered:
            talk_seconds_refresh(locked)
            locked.save(update_fields=["talk_seconds"])
        if fresh and answered and agent is not None:
            if locked.agent_id != agent.pk:
                locked.agent = agent
                locked.save(update_fields=["agent"])
            call_agent_leg_ended(call=locked, agent=agent)
            item = locked.work_item
            if item is not None and item.status == WorkItem.Status.ASSIGNED:
                work_item_finish(item=item)  # after after-call work began: no new offer yet
        elif fresh and not answered and locked.agent_id == agent_id and agent is not None:
            # The agent did not pick up again after a hold: the caller goes to the queue
            # (below), and the agent's part ends here, as with a transfer.
            locked.agent = None
            locked.save(update_fields=["agent"])
            item = locked.work_item
            if item is not None and item.status == WorkItem.Status.ASSIGNED:
                work_item_finish(item=item)
            call_agent_leg_ended(call=locked, agent=agent)
    if answered:
        return twiml.hangup()
    if locked.is_over:
        return twiml.EMPTY
    return _unanswered_twiml(locked)


def _unanswered_twiml(call: Call) -> str:
    if call.queue_id is None:
        return voicemail_twiml(call=call, speech=speech_for(call.tenant, call.menu))
    return twiml.redirect(hook_url("voice-transfer-queue", call.pk, call.queue_id))


def call_hold_twiml(*, call_sid: str, call_id: int) -> str:
    """The hold URL: music in a loop (or silence, asked again every 30 s). Reads only."""
    call = call_for_sid(call_sid, call_id=call_id)
    return twiml.hold(
        music_url=settings.TELEPHONY_HOLD_MUSIC_URL, again_url=hook_url("voice-hold", call.pk)
    )


# --- after-call work -------------------------------------------------------------------------


def _acw_key(call_id: int, agent_id: int, edge: str) -> str:
    return f"acw:{call_id}:{agent_id}:{edge}"


def _acw_reason(call_id: int) -> str:
    return f"call:{call_id}"


def call_agent_leg_ended(*, call: Call, agent: AgentProfile) -> bool:
    """An agent's part in the call is over: after-call work starts (once per call and agent).

    Runs in the caller's transaction. The start is recorded (a CallEvent; wrap-up time counts
    from it); the agent goes to AFTER_CALL_WORK (unless they are on a break or offline) and
    `call_wrapup_expire` is scheduled TELEPHONY_WRAPUP_SECONDS later. With the setting at 0
    the agent's presence is left alone (they may still record a disposition).
    Returns True when after-call work started now.
    """
    if not _record(
        call, "acw_start", {"agent_id": agent.pk}, key=_acw_key(call.pk, agent.pk, "start")
    ):
        return False
    seconds = settings.TELEPHONY_WRAPUP_SECONDS
    if seconds <= 0:
        return True
    current = AgentProfile.objects.only("presence").get(pk=agent.pk).presence
    if current in (Presence.AVAILABLE, Presence.BUSY):
        agent_set_presence(
            agent=agent, presence=Presence.AFTER_CALL_WORK, reason=_acw_reason(call.pk)
        )
    from telephony.incall_tasks import wrapup_expire  # the task module imports this one

    call_id, agent_id = call.pk, agent.pk
    transaction.on_commit(
        lambda: wrapup_expire.apply_async(
            kwargs={"call_id": call_id, "agent_id": agent_id}, countdown=seconds
        )
    )
    return True


def _acw_finish(*, call: Call, agent: AgentProfile, now: datetime, payload: dict) -> int | None:
    """Close the agent's after-call work on the locked call: the elapsed seconds, or None when
    it was already closed. Makes the agent AVAILABLE if this wrap-up still holds them."""
    start = CallEvent.objects.filter(key=_acw_key(call.pk, agent.pk, "start")).first()
    if start is None:
        return None
    if not _record(call, "acw_end", payload, key=_acw_key(call.pk, agent.pk, "end")):
        return None
    seconds = max(0, int((now - start.received_at).total_seconds()))
    call.wrapup_seconds = (call.wrapup_seconds or 0) + seconds
    locked_agent = AgentProfile.objects.get(pk=agent.pk)
    if (
        locked_agent.presence == Presence.AFTER_CALL_WORK
        and locked_agent.presence_reason == _acw_reason(call.pk)
    ):
        agent_set_presence(agent=locked_agent, presence=Presence.AVAILABLE)
    return seconds


def _disposition(call: Call, value: DispositionCode | str) -> DispositionCode:
    if isinstance(value, DispositionCode):
        found = value if value.tenant_id == call.tenant_id and value.is_active else None
    else:
        found = DispositionCode.objects.filter(
            tenant_id=call.tenant_id, code=str(value).strip(), is_active=True
        ).first()
    if found is None:
        raise ValidationError({"disposition": ["Unknown disposition code."]})
    return found


@transaction.atomic
def call_wrapup(
    *,
    call: Call,
    agent: AgentProfile,
    disposition: DispositionCode | str,
    note: str = "",
    ticket: Ticket | None = None,
    open_ticket: bool = False,
    actor: Principal | None = None,
) -> Call:
    """The agent finishes their after-call work: disposition (an active code of the call's
    tenant), an optional note (on the contact's timeline, or the ticket's), a ticket linked or
    opened, and the call on the contact's timeline as `call.wrapped_up`. Their work item is
    finished if still open and they are AVAILABLE again. `wrapup_seconds` grows by the time
    since their leg ended.

    Raises ValidationError for an unknown disposition or a ticket of another tenant or contact,
    CallConflict while the agent is still connected or when they already wrapped up.
    """
    locked = _lock(call)
    code = _disposition(locked, disposition)
    if ticket is not None and (
        ticket.tenant_id != locked.tenant_id
        or (locked.contact_id and ticket.contact_id not in (None, locked.contact_id))
    ):
        raise ValidationError({"ticket": ["Unknown ticket for this call."]})
    if ticket is not None and open_ticket:
        raise ValidationError({"open_ticket": ["Link a ticket or open one, not both."]})
    started = CallEvent.objects.filter(key=_acw_key(locked.pk, agent.pk, "start")).exists()
    if not started:
        if not locked.is_over and locked.agent_id == agent.pk:
            raise CallConflict("The agent is still on this call.", code="still_connected")
        if locked.agent_id != agent.pk and not locked.is_over:
            raise CallConflict("This agent has no call to wrap up.", code="not_wrapping_up")
        # The call ended and the timer has not been set up yet (its task is still queued):
        # wrap-up starts and ends now.
        _record(
            locked, "acw_start", {"agent_id": agent.pk}, key=_acw_key(locked.pk, agent.pk, "start")
        )
    now = timezone.now()
    if open_ticket:
        ticket = ticket_create(
            tenant=locked.tenant,
            actor=actor,
            subject=f"Call from {locked.from_number}",
            contact=locked.contact,
            description=note,
            queue=locked.queue,
        )
    seconds = _acw_finish(
        call=locked,
        agent=agent,
        now=now,
        payload={"agent_id": agent.pk, "disposition": code.code, "by": _who(actor)},
    )
    if seconds is None:
        raise CallConflict("This call is already wrapped up.", code="already_wrapped_up")
    if note.strip() and (locked.contact is not None or ticket is not None):
        note_add(actor=actor, body=note, contact=locked.contact, ticket=ticket)
    locked.disposition = code
    locked.wrapup_note = note
    locked.wrapped_up_at = now
    if ticket is not None:
        locked.ticket = ticket
    locked.save()
    item = locked.work_item
    if item is not None and item.agent_id == agent.pk and item.status == WorkItem.Status.ASSIGNED:
        work_item_finish(item=item)
    if locked.contact is not None:
        timeline_add(
            tenant_id=locked.tenant_id,
            contact=locked.contact,
            kind="call.wrapped_up",
            summary=f"Call with {locked.from_number}: {code.label}",
            actor=actor,
            ticket=ticket,
            data={
                "call_id": locked.pk,
                "disposition": code.code,
                "talk_seconds": locked.talk_seconds,
                "hold_seconds": locked.hold_seconds,
                "agent_id": agent.pk,
            },
            ref_type=REF_TYPE,
            ref_id=locked.pk,
            occurred_at=now,
        )
    publish(
        "call.wrapped_up",
        tenant_id=locked.tenant_id,
        payload={
            "call_id": locked.pk,
            "agent_id": agent.pk,
            "disposition": code.code,
            "ticket_id": ticket.pk if ticket is not None else None,
            "wrapup_seconds": seconds,
            "timed_out": False,
        },
    )
    return locked


@transaction.atomic
def call_wrapup_expire(*, call_id: int, agent_id: int) -> bool:
    """The wrap-up timer ran out (Celery countdown task): the agent is AVAILABLE again unless
    they finished earlier, or changed their presence themselves meanwhile. Idempotent."""
    call = Call.objects.filter(pk=call_id).first()
    agent = AgentProfile.objects.filter(pk=agent_id).first()
    if call is None or agent is None:
        return False
    locked = _lock(call)
    seconds = _acw_finish(
        call=locked, agent=agent, now=timezone.now(), payload={"agent_id": agent.pk, "timer": True}
    )
    if seconds is None:
        return False
    locked.save(update_fields=["wrapup_seconds"])
    publish(
        "call.wrapped_up",
        tenant_id=locked.tenant_id,
        payload={
            "call_id": locked.pk,
            "agent_id": agent.pk,
            "disposition": None,
            "ticket_id": locked.ticket_id,
            "wrapup_seconds": seconds,
            "timed_out": True,
        },
    )
    return True


@transaction.atomic
def call_ended_settle(*, call_id: int) -> None:
    """After the call's end (`call.ended`): a hold still open is closed at the end time, and
    the agent who had the caller on hold (no Dial action told us of their leg's end) starts
    after-call work. Idempotent."""
    call = Call.objects.filter(pk=call_id).first()
    if call is None:
        return
    locked = _lock(call)
    if locked.hold_started_at is not None:
        _close_hold(locked, max(locked.hold_started_at, locked.ended_at or timezone.now()))
        locked.save(update_fields=["hold_started_at", "hold_seconds"])
    if locked.agent is not None and locked.answered_at is not None:
        call_agent_leg_ended(call=locked, agent=locked.agent)
