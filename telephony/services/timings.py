"""A call's durations, derived only from its stored timestamps and the provider's webhook
payloads (so from provider data where there is any): the same deliveries give the same
durations whatever order — and however many times — they came in."""

from __future__ import annotations

from datetime import datetime

from telephony.models import Call, CallEvent


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def _int(value: object) -> int | None:
    try:
        return max(0, int(str(value)))
    except (TypeError, ValueError):
        return None


def timings_update(call: Call) -> None:
    """Set wait, ring and talk seconds on `call` (not saved).

    wait: queued until (first) answered — or until the end for a caller never answered;
    ring: the answered agent's phone started ringing until they answered;
    talk: summed over the agent legs by `talk_seconds_summed` where the provider reported any,
    else answered until end.
    """
    if call.queued_at is not None:
        call.wait_seconds = _seconds(call.queued_at, call.answered_at or call.ended_at)
    if call.answered_at is not None:
        call.ring_seconds = _seconds(call.offered_at, call.answered_at)
        if call.talk_seconds is None:
            call.talk_seconds = _seconds(call.answered_at, call.ended_at)


def talk_seconds_summed(call: Call) -> int | None:
    """The caller's talk time with agents, summed over every agent leg of the call.

    A call may reach several agent legs: hold ends the agent's leg and resume rings a new one,
    a transfer rings another agent, a transfer to a queue is answered by someone else. Each
    leg's talk is the provider's figure for that leg — its `completed` status callback's
    `CallDuration`, else the Dial action's `DialCallDuration` for it (matched by
    `DialCallSid`). Both are stored as CallEvents with unique keys, so a replayed or reordered
    delivery counts once and the sum does not depend on the order. None when no leg reported.
    """
    per_leg: dict[str, int] = {}
    from_dial: dict[str, int] = {}
    rows = CallEvent.objects.filter(call=call, kind__in=("agent_leg", "dial")).values_list(
        "kind", "call_sid", "key", "payload"
    )
    for kind, leg_sid, key, payload in rows:
        if kind == "agent_leg":
            seconds = _int(payload.get("CallDuration"))
            if payload.get("CallStatus") == "completed" and seconds is not None:
                per_leg[leg_sid] = seconds
        else:
            seconds = _int(payload.get("DialCallDuration"))
            if seconds is not None:
                from_dial[payload.get("DialCallSid") or key] = seconds
    merged = {**from_dial, **per_leg}
    return sum(merged.values()) if merged else None


def talk_seconds_refresh(call: Call) -> None:
    """Re-derive `talk_seconds` on the (locked) call from its agent legs (not saved)."""
    summed = talk_seconds_summed(call)
    if summed is not None:
        call.talk_seconds = summed


def agent_leg_completed(*, call: Call) -> None:
    """An agent leg's `completed` callback (already recorded as a CallEvent): re-sum talk.

    A leg may end without a Dial action (hold or a transfer redirects the caller away from the
    `<Dial>`), so this callback is where that leg's talk time is learnt. Locks the call; run
    it inside the webhook's transaction."""
    locked = Call.objects.select_for_update(of=("self",)).get(pk=call.pk)
    before = locked.talk_seconds
    talk_seconds_refresh(locked)
    if locked.talk_seconds != before:
        locked.save(update_fields=["talk_seconds"])
