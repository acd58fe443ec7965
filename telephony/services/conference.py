"""The conference bridge (`cc-call-<call id>`): its status callback and who is in it.

Behind `settings.TELEPHONY_CONFERENCE_BRIDGE` (default off); see
docs/decisions/003-conference-monitoring.md. Every leg we add is labelled (`caller`,
`agent-<agent id>`, `supervisor-<user id>`, `consult-<agent id>`), so a callback says by itself
whose leg it is. Deliveries are stored as CallEvents keyed `conference:<ConferenceSid>:<Seq>`:
a duplicate is ignored, and a reordered one leaves the same rows (join/leave keep the earliest
timestamps, the flags those of the highest SequenceNumber).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm.models import AgentProfile, User
from telephony.models import Call, ConferenceParticipant, MonitorMode, ParticipantRole
from telephony.services.common import WebhookError, event_record, hook_url

PARTICIPANT_EVENTS = frozenset(
    {
        "participant-join",
        "participant-leave",
        "participant-mute",
        "participant-unmute",
        "participant-hold",
        "participant-unhold",
        "participant-modify",
        "participant-speech-start",
        "participant-speech-stop",
    }
)
CONFERENCE_EVENTS = frozenset({"conference-start", "conference-end", "announcement-end"})


def conference_bridge_enabled() -> bool:
    return bool(getattr(settings, "TELEPHONY_CONFERENCE_BRIDGE", False))


def conference_name(call: Call | int) -> str:
    """The friendly name of a call's conference."""
    return f"cc-call-{call if isinstance(call, int) else call.pk}"


def conference_status_url(call: Call) -> str:
    return hook_url("voice-conference", call.pk)


def role_of_label(label: str) -> tuple[str, int | None]:
    """(role, id) from our participant label: `agent-7` → ("agent", 7)."""
    kind, _, rest = (label or "").partition("-")
    number = rest.split("-", 1)[0]
    if kind in ParticipantRole.values and kind != ParticipantRole.OTHER:
        return kind, int(number) if number.isdigit() else None
    return ParticipantRole.OTHER, None


def _mode_of(row: ConferenceParticipant) -> str:
    if row.role != ParticipantRole.SUPERVISOR or row.left_at is not None:
        return MonitorMode.NONE
    if row.coaching:
        return MonitorMode.WHISPER
    return MonitorMode.LISTEN if row.muted else MonitorMode.BARGE


def conference_event(
    *,
    call_id: int,
    conference_sid: str,
    friendly_name: str,
    event: str,
    sequence: int,
    at: datetime | None,
    call_sid: str | None,
    label: str,
    flags: dict[str, bool],
    payload: dict,
) -> None:
    """The conference status callback (`/hooks/twilio/voice/calls/<id>/conference/`).

    The URL's call id and the conference's friendly name must agree (404 otherwise), so a
    guessed URL cannot touch another call. Participant events upsert the leg's
    `ConferenceParticipant`; `conference-end` closes every leg still open.
    """
    if friendly_name != conference_name(call_id):
        raise WebhookError(f"conference {friendly_name!r} is not call {call_id}'s", status=404)
    call = Call.objects.filter(pk=call_id).first()
    if call is None:
        raise WebhookError(f"unknown call {call_id}", status=404)
    if event in PARTICIPANT_EVENTS and not call_sid:
        raise WebhookError(f"missing parameter CallSid for {event}")
    at = at or timezone.now()
    with transaction.atomic():
        key = f"conference:{conference_sid}:{sequence}"
        if not event_record(
            key=key, kind="conference", call=call, call_sid=call_sid or "", payload=payload
        ):
            return
        if event == "conference-end":
            ConferenceParticipant.objects.filter(
                call=call, conference_sid=conference_sid, left_at__isnull=True
            ).update(left_at=at, monitor_mode=MonitorMode.NONE)
            return
        if event not in PARTICIPANT_EVENTS:
            return
        _participant_event(
            call=call,
            conference_sid=conference_sid,
            event=event,
            sequence=sequence,
            at=at,
            call_sid=call_sid or "",
            label=label,
            flags=flags,
        )


def _participant_event(
    *,
    call: Call,
    conference_sid: str,
    event: str,
    sequence: int,
    at: datetime,
    call_sid: str,
    label: str,
    flags: dict[str, bool],
) -> None:
    role, number = role_of_label(label)
    if call_sid == call.sid:
        role, number = ParticipantRole.CALLER, None
    row, _created = ConferenceParticipant.objects.select_for_update().get_or_create(
        call_sid=call_sid,
        defaults={
            "tenant_id": call.tenant_id,
            "call": call,
            "conference_sid": conference_sid,
            "role": role,
            "label": label,
        },
    )
    if row.call_id != call.pk:
        raise WebhookError(f"participant {call_sid} belongs to another call", status=404)
    if role in (ParticipantRole.AGENT, ParticipantRole.CONSULT) and number is not None:
        row.agent = AgentProfile.objects.filter(pk=number, tenant_id=call.tenant_id).first()
    elif role == ParticipantRole.SUPERVISOR and number is not None:
        # Only a member of the call's tenant: a label is ours, but never trusted blindly.
        row.user = User.objects.filter(pk=number, memberships__tenant_id=call.tenant_id).first()
    if event == "participant-join":
        row.joined_at = at if row.joined_at is None else min(row.joined_at, at)
    elif event == "participant-leave":
        # The leave time is the leg's own; a `conference-end` seen first gave a later one.
        row.left_at = at if row.left_at is None else min(row.left_at, at)
    if sequence > row.last_sequence:
        row.last_sequence = sequence
        row.muted = flags.get("muted", row.muted)
        row.held = flags.get("hold", row.held)
        row.coaching = flags.get("coaching", row.coaching)
    row.monitor_mode = _mode_of(row)
    row.save()
    if event == "participant-leave":
        _agent_left(call=call, row=row)


def _agent_left(*, call: Call, row: ConferenceParticipant) -> None:
    """The call's current agent left the conference (hung up, or a consulted agent who took
    the call over): their after-call work starts and the caller, who would otherwise be alone
    in the room, is moved on to the after-call TwiML (a survey, or hang-up). Once per leg."""
    from telephony.services.incall import _redirect_later, call_agent_leg_ended

    if row.role not in (ParticipantRole.AGENT, ParticipantRole.CONSULT) or row.agent is None:
        return
    locked = Call.objects.select_for_update(of=("self",)).get(pk=call.pk)
    if locked.agent_id != row.agent_id or locked.is_over:
        return  # handed over already (warm transfer), or nothing left to move
    if not event_record(
        key=f"conference-release:{row.call_sid}",
        kind="conference_release",
        call=locked,
        call_sid=row.call_sid,
        payload={"agent_id": row.agent_id},
    ):
        return
    if row.role == ParticipantRole.CONSULT:
        call_agent_leg_ended(call=locked, agent=row.agent)
        item = locked.work_item
        if item is not None and item.status == item.Status.ASSIGNED:
            from crm.services.routing import work_item_finish

            work_item_finish(item=item)
    caller = ConferenceParticipant.objects.filter(
        call=locked, role=ParticipantRole.CALLER, left_at__isnull=True
    ).exists()
    if caller:
        _redirect_later(locked, url=hook_url("voice-conference-done", locked.pk))


# --- reads -------------------------------------------------------------------------------------


def conference_agent_leg(call: Call) -> ConferenceParticipant | None:
    """The call's agent leg while the caller and the agent are both in the conference."""
    rows = [
        row
        for row in ConferenceParticipant.objects.filter(
            call=call, left_at__isnull=True, joined_at__isnull=False
        )
        if row.role in (ParticipantRole.CALLER, ParticipantRole.AGENT)
    ]
    caller = next((row for row in rows if row.role == ParticipantRole.CALLER), None)
    agents = [row for row in rows if row.role == ParticipantRole.AGENT]
    if caller is None or not agents:
        return None
    return max(agents, key=lambda row: row.joined_at)
