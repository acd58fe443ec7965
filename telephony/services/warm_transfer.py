"""Warm (consultative) transfer through the call's conference (`TELEPHONY_CONFERENCE_BRIDGE`).

Start: the caller's participant is put on hold (hold music) and the target agent is rung into
the conference (label `consult-<agent id>`), where the two agents talk. Complete: the caller is
taken off hold, the first agent's leg leaves (their work item is finished and after-call work
starts) and the consulted agent becomes the call's agent. Cancel: the consulted agent's leg
leaves and the caller is taken off hold. Each step is a CallEvent (kind `consult`, one open
consultation per call at a time); provider requests go out after commit, once
(`telephony.services.monitoring.conference_request_send`).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm.events import publish
from crm.models import AgentProfile, WorkItem
from crm.services.routing import work_item_finish
from crm.tenancy import Principal
from telephony.models import Call, CallEvent, ConferenceParticipant, ParticipantRole
from telephony.services.common import agent_identity
from telephony.services.conference import (
    conference_agent_leg,
    conference_bridge_enabled,
    conference_name,
    conference_status_url,
)
from telephony.services.incall import (
    CallConflict,
    _close_hold,
    _lock,
    _require_connected,
    _who,
    call_agent_leg_ended,
)
from telephony.services.monitoring import _request


def _open_consult(call: Call) -> CallEvent | None:
    return (
        CallEvent.objects.select_for_update()
        .filter(call=call, kind="consult", payload__state="open")
        .first()
    )


def _caller_leg(call: Call) -> ConferenceParticipant | None:
    return ConferenceParticipant.objects.filter(
        call=call, role=ParticipantRole.CALLER, left_at__isnull=True, joined_at__isnull=False
    ).first()


def _hold(call: Call, caller: ConferenceParticipant, hold: bool, actor_id: int | None) -> None:
    kwargs = {"conference_sid": caller.conference_sid, "call_sid": caller.call_sid, "hold": hold}
    if hold and settings.TELEPHONY_HOLD_MUSIC_URL:
        kwargs["hold_url"] = settings.TELEPHONY_HOLD_MUSIC_URL
    _request(call, "participant_update", kwargs, actor_id)


def _actor_id(actor: Principal | None) -> int | None:
    return actor.user.pk if actor is not None and actor.user is not None else None


@transaction.atomic
def call_transfer_warm_start(
    *, call: Call, to_agent: AgentProfile, actor: Principal | None = None
) -> CallEvent:
    """Start a consultation with `to_agent`. CallConflict (409) when the bridge is off, the
    caller and agent are not both in the conference, or a consultation is already open."""
    locked = _lock(call)
    from_agent = _require_connected(locked)
    agent_leg = conference_agent_leg(locked) if conference_bridge_enabled() else None
    caller = _caller_leg(locked)
    if agent_leg is None or caller is None:
        raise CallConflict(
            "A warm transfer needs the call bridged through a conference.", code="not_bridged"
        )
    if to_agent.pk == from_agent.pk or to_agent.tenant_id != locked.tenant_id:
        raise CallConflict("Choose another agent of this tenant.", code="bad_target")
    if _open_consult(locked) is not None:
        raise CallConflict("A consultation is already in progress.", code="consulting")
    actor_id = _actor_id(actor)
    # A caller already on hold: that hold ends here and the consultation's hold takes over, so
    # complete / cancel (which take the caller off hold) leave no hold open on the call.
    if locked.hold_started_at is not None:
        _close_hold(locked, timezone.now())
        locked.save(update_fields=["hold_started_at", "hold_seconds"])
    _hold(locked, caller, True, actor_id)
    _request(
        locked,
        "participant_create",
        {
            "conference": conference_name(locked),
            "to": f"client:{agent_identity(to_agent.user_id)}",
            "from_": locked.to_number,
            "label": f"consult-{to_agent.pk}",
            "status_callback": conference_status_url(locked),
        },
        actor_id,
    )
    return CallEvent.objects.create(
        tenant_id=locked.tenant_id,
        call=locked,
        call_sid=locked.sid,
        kind="consult",
        key=f"consult:{locked.pk}:{uuid.uuid4().hex}",
        payload={
            "state": "open",
            "from_agent_id": from_agent.pk,
            "to_agent_id": to_agent.pk,
            "by": _who(actor),
        },
    )


@transaction.atomic
def call_transfer_warm_complete(*, call: Call, actor: Principal | None = None) -> Call:
    """Hand the caller to the consulted agent. 409 without an open consultation, or while the
    consulted agent has not joined yet."""
    locked = _lock(call)
    from_agent = _require_connected(locked)
    consult = _open_consult(locked)
    if consult is None:
        raise CallConflict("No consultation is in progress.", code="not_consulting")
    to_agent_id = consult.payload["to_agent_id"]
    consult_leg = ConferenceParticipant.objects.filter(
        call=locked,
        role=ParticipantRole.CONSULT,
        agent_id=to_agent_id,
        joined_at__isnull=False,
        left_at__isnull=True,
    ).first()
    if consult_leg is None:
        raise CallConflict("The consulted agent has not answered yet.", code="not_joined")
    actor_id = _actor_id(actor)
    caller = _caller_leg(locked)
    if caller is not None:
        _hold(locked, caller, False, actor_id)
    agent_leg = conference_agent_leg(locked)
    if agent_leg is not None:
        _request(
            locked,
            "participant_delete",
            {"conference_sid": agent_leg.conference_sid, "call_sid": agent_leg.call_sid},
            actor_id,
        )
    item = locked.work_item
    if item is not None and item.status == WorkItem.Status.ASSIGNED:
        work_item_finish(item=item)
    locked.agent_id = to_agent_id
    locked.save(update_fields=["agent"])
    consult.payload = {**consult.payload, "state": "completed"}
    consult.save(update_fields=["payload"])
    call_agent_leg_ended(call=locked, agent=from_agent)
    publish(
        "call.transferred",
        tenant_id=locked.tenant_id,
        payload={
            "call_id": locked.pk,
            "from_agent_id": from_agent.pk,
            "kind": "agent",
            "to_agent_id": to_agent_id,
            "to_queue_id": None,
            "to_number": None,
        },
    )
    return locked


@transaction.atomic
def call_transfer_warm_cancel(*, call: Call, actor: Principal | None = None) -> Call:
    """Give up the consultation: the consulted agent leaves, the caller is taken off hold."""
    locked = _lock(call)
    consult = _open_consult(locked)
    if consult is None:
        raise CallConflict("No consultation is in progress.", code="not_consulting")
    actor_id = _actor_id(actor)
    for leg in ConferenceParticipant.objects.filter(
        call=locked,
        role=ParticipantRole.CONSULT,
        agent_id=consult.payload["to_agent_id"],
        left_at__isnull=True,
    ):
        _request(
            locked,
            "participant_delete",
            {"conference_sid": leg.conference_sid, "call_sid": leg.call_sid},
            actor_id,
        )
    caller = _caller_leg(locked)
    if caller is not None:
        _hold(locked, caller, False, actor_id)
    consult.payload = {**consult.payload, "state": "cancelled"}
    consult.save(update_fields=["payload"])
    return locked
