"""A call's durations, derived only from its stored timestamps (so from provider data where
there is any): the same timestamps give the same durations whatever order webhooks came in."""

from __future__ import annotations

from datetime import datetime

from telephony.models import Call


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def timings_update(call: Call) -> None:
    """Set wait, ring and talk seconds on `call` (not saved).

    wait: queued until answered — or until the end for a caller who was never answered;
    ring: the answered agent's phone started ringing until they answered;
    talk: Twilio's DialCallDuration when the Dial action reported it, else answered until end.
    """
    if call.queued_at is not None:
        call.wait_seconds = _seconds(call.queued_at, call.answered_at or call.ended_at)
    if call.answered_at is not None:
        call.ring_seconds = _seconds(call.offered_at, call.answered_at)
        if call.talk_seconds is None:
            call.talk_seconds = _seconds(call.answered_at, call.ended_at)
