"""Agent presence: the one place an agent's state changes, with its log and routing effects."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from crm.events import publish
from crm.models import AgentProfile, Presence, PresenceLog, Role
from crm.services.routing import agent_route, offers_withdraw_for_agent, work_route
from crm.tenancy import Principal

# States in which an agent cannot answer: their pending offers go to someone else at once.
# BUSY and AFTER_CALL_WORK only stop new offers; an offer already ringing stays until it is
# answered or expires (telephony may set BUSY while an agent still has chats offered).
WITHDRAWING_STATES = frozenset({Presence.OFFLINE, Presence.BREAK})


@transaction.atomic
def agent_set_presence(
    *,
    agent: AgentProfile,
    presence: str,
    reason: str = "",
    actor: Principal | None = None,
) -> AgentProfile:
    """Change an agent's presence, closing the open presence-log row and opening a new one.

    Becoming AVAILABLE offers the agent the waiting work that fits at once; going OFFLINE or on
    BREAK withdraws their pending offers and offers those items to other agents. Publishes
    `agent.status_changed` after commit. Setting the same presence and reason again is a no-op.
    Holds the agent's row lock until the transaction ends. `actor` is who made the change: the
    agent themselves, or a supervisor or manager of the agent's tenant (anyone else gets
    `PermissionDenied`); None for the system (telephony, beat).
    """
    _check_actor(actor=actor, agent=agent)
    if presence not in Presence.values:
        raise ValidationError({"presence": f"Unknown presence {presence!r}."})
    locked = AgentProfile.objects.select_for_update(no_key=True).get(pk=agent.pk)
    if locked.presence == presence and locked.presence_reason == reason:
        return locked
    now = timezone.now()
    previous = locked.presence
    PresenceLog.objects.filter(agent=locked, ended_at__isnull=True).update(ended_at=now)
    PresenceLog.objects.create(
        tenant_id=locked.tenant_id,
        agent=locked,
        presence=presence,
        reason=reason,
        started_at=now,
        changed_by=actor.user if actor is not None else None,
    )
    locked.presence = presence
    locked.presence_reason = reason
    locked.presence_changed_at = now
    fields = ["presence", "presence_reason", "presence_changed_at"]
    if presence == Presence.AVAILABLE and previous != Presence.AVAILABLE:
        # Idle time counts from becoming available, not from work finished before a break.
        locked.last_idle_at = now
        fields.append("last_idle_at")
    locked.save(update_fields=fields)
    publish(
        "agent.status_changed",
        tenant_id=locked.tenant_id,
        agent_user_id=locked.user_id,
        payload={
            "agent_id": locked.pk,
            "user_id": locked.user_id,
            "presence": presence,
            "previous": previous,
            "reason": reason,
            "changed_at": now.isoformat(),
            "changed_by": actor.label if actor is not None else "system",
        },
    )
    if presence == Presence.AVAILABLE:
        agent_route(agent=locked)
    elif presence in WITHDRAWING_STATES:
        for item in offers_withdraw_for_agent(agent=locked, reason=presence):
            work_route(item=item)
    _copy_presence(source=locked, target=agent)
    return locked


def _check_actor(*, actor: Principal | None, agent: AgentProfile) -> None:
    if actor is None or (actor.user is not None and actor.user.pk == agent.user_id):
        return
    if not actor.has_role(agent.tenant_id, Role.SUPERVISOR):
        raise PermissionDenied("Only supervisors may set another agent's presence.")


def _copy_presence(*, source: AgentProfile, target: AgentProfile) -> None:
    # The caller's instance reflects the change too, as it would after a plain save().
    for name in ("presence", "presence_reason", "presence_changed_at", "last_idle_at"):
        setattr(target, name, getattr(source, name))
