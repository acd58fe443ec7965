"""Supervisor listen-in, whisper and barge on a call bridged through its conference.

A supervisor joins the call's conference as a labelled participant (`supervisor-<user id>`):
muted to listen, coaching the agent's leg to whisper (only the agent hears them), unmuted to
barge. A mode switch is a participant update, stop removes the leg. Nothing talks to the
provider inside the request: each provider request is a CallEvent (kind `conference_request`)
sent once after commit by the `conference_request` task. Each start, switch and stop is also a
CallEvent (kind `monitor`) and publishes `call.monitored`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.events import publish
from telephony.models import (
    Call,
    CallEvent,
    ConferenceParticipant,
    MonitorMode,
    ParticipantRole,
)
from telephony.providers import get_voice_provider
from telephony.services.common import agent_identity
from telephony.services.conference import (
    conference_agent_leg,
    conference_bridge_enabled,
    conference_name,
    conference_status_url,
)

# How long a supervisor's leg may take to join before a new start is allowed (ring + margin).
CONNECTING_SECONDS = 45
MODES = (MonitorMode.LISTEN, MonitorMode.WHISPER, MonitorMode.BARGE)


class MonitorError(Exception):
    """The call cannot be monitored now; `status` is the HTTP answer (400, 409)."""

    def __init__(self, reason: str, *, status: int = 409) -> None:
        super().__init__(reason)
        self.status = status


def _flags(mode: str, agent_leg: ConferenceParticipant) -> dict:
    return {
        "muted": mode == MonitorMode.LISTEN,
        "coaching": mode == MonitorMode.WHISPER,
        "call_sid_to_coach": agent_leg.call_sid if mode == MonitorMode.WHISPER else None,
    }


def _request(call: Call, method: str, kwargs: dict, user_id: int) -> CallEvent:
    event = CallEvent.objects.create(
        tenant_id=call.tenant_id,
        call=call,
        call_sid=call.sid,
        kind="conference_request",
        key=f"conference_request:{uuid.uuid4().hex}",
        payload={"method": method, "kwargs": kwargs, "user_id": user_id},
    )
    from telephony.incall_tasks import conference_request

    transaction.on_commit(lambda: conference_request.delay(event_id=event.pk))
    return event


def _log(call: Call, user_id: int, agent_id: int | None, mode: str, started: bool) -> None:
    CallEvent.objects.create(
        tenant_id=call.tenant_id,
        call=call,
        call_sid=call.sid,
        kind="monitor",
        key=f"monitor:{uuid.uuid4().hex}",
        payload={"supervisor_user_id": user_id, "mode": mode, "started": started},
    )
    publish(
        "call.monitored",
        tenant_id=call.tenant_id,
        payload={
            "call_id": call.pk,
            "supervisor_user_id": user_id,
            "agent_id": agent_id,
            "mode": mode,
            "started": started,
        },
    )


def supervisor_leg(call: Call, user_id: int) -> ConferenceParticipant | None:
    """The supervisor's leg in the call's conference while it is up."""
    return (
        ConferenceParticipant.objects.filter(
            call=call,
            role=ParticipantRole.SUPERVISOR,
            user_id=user_id,
            joined_at__isnull=False,
            left_at__isnull=True,
        )
        .order_by("-joined_at")
        .first()
    )


def _connecting(call: Call, user_id: int) -> bool:
    """A recent create request for this supervisor whose leg has not joined yet (or not been
    sent). Older ones are given up on, so a leg the provider never rang does not block."""
    pending = CallEvent.objects.filter(
        call=call,
        received_at__gte=timezone.now() - timedelta(seconds=CONNECTING_SECONDS),
        kind="conference_request",
        payload__method="participant_create",
        payload__user_id=user_id,
    )
    for event in pending:
        leg_sid = event.payload.get("leg_sid")
        if leg_sid is None:
            return True
        if leg_sid and not ConferenceParticipant.objects.filter(call_sid=leg_sid).exists():
            return True
    return False


@transaction.atomic
def call_monitor(*, call: Call, supervisor_user_id: int, mode: str) -> str:
    """Start monitoring `call` in `mode`, or switch to it. Returns "started" or "switched".

    Raises MonitorError: 400 for an unknown mode; 409 when the call is over, is not bridged
    through a conference (flag off, or the caller and agent are not both in it), or the
    supervisor's leg is still being rung.
    """
    if mode not in MODES:
        raise MonitorError(_("Unknown monitoring mode."), status=400)
    call = Call.objects.select_for_update().get(pk=call.pk)
    if call.is_over:
        raise MonitorError(_("The call has ended."))
    agent_leg = conference_agent_leg(call) if conference_bridge_enabled() else None
    if agent_leg is None:
        raise MonitorError(
            _("This call is not bridged through a conference, so it cannot be monitored.")
        )
    mine = supervisor_leg(call, supervisor_user_id)
    if mine is None and _connecting(call, supervisor_user_id):
        raise MonitorError(_("Your monitoring leg is still connecting; try again in a moment."))
    flags = _flags(mode, agent_leg)
    if mine is None:
        _request(
            call,
            "participant_create",
            {
                "conference": conference_name(call),
                "to": f"client:{agent_identity(supervisor_user_id)}",
                "from_": call.to_number,
                "label": f"supervisor-{supervisor_user_id}",
                "status_callback": conference_status_url(call),
                **flags,
            },
            supervisor_user_id,
        )
        outcome = "started"
    else:
        if mine.monitor_mode == mode:
            return "unchanged"
        _request(
            call,
            "participant_update",
            {"conference_sid": mine.conference_sid, "call_sid": mine.call_sid, **flags},
            supervisor_user_id,
        )
        outcome = "switched"
    _log(call, supervisor_user_id, agent_leg.agent_id, mode, True)
    return outcome


@transaction.atomic
def call_monitor_stop(*, call: Call, supervisor_user_id: int) -> None:
    """Stop monitoring: the supervisor's leg leaves the conference. 409 when not monitoring."""
    call = Call.objects.select_for_update().get(pk=call.pk)
    mine = supervisor_leg(call, supervisor_user_id)
    if mine is None:
        raise MonitorError(_("You are not monitoring this call."))
    _request(
        call,
        "participant_delete",
        {"conference_sid": mine.conference_sid, "call_sid": mine.call_sid},
        supervisor_user_id,
    )
    agent_leg = conference_agent_leg(call)
    _log(
        call,
        supervisor_user_id,
        agent_leg.agent_id if agent_leg else None,
        mine.monitor_mode,
        False,
    )


def conference_request_send(*, event_id: int) -> bool:
    """Send one recorded participant request to the provider (the Celery task); at most once.
    Returns True when sent now."""
    with transaction.atomic():
        event = (
            CallEvent.objects.select_for_update()
            .filter(pk=event_id, kind="conference_request")
            .first()
        )
        if event is None or event.payload.get("sent_at"):
            return False
        provider = get_voice_provider()
        method = event.payload["method"]
        result = getattr(provider, method)(**event.payload["kwargs"])
        payload = {**event.payload, "sent_at": timezone.now().isoformat()}
        if method == "participant_create":
            payload["leg_sid"] = result
        event.payload = payload
        event.save(update_fields=["payload"])
    return True
