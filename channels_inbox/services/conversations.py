"""Conversation writes used by agents, supervisors and the API: assignment and status.

A conversation that needs an agent is represented in crm's routing engine by one `WorkItem`
(`ref_type=REF_TYPE`, `ref_id=<conversation pk>`). At most one item per conversation is live
(WAITING, OFFERED or ASSIGNED); these services keep it in step with the conversation:

* assigning to an agent cancels the live item (freeing the previous agent's capacity) and
  records a new ASSIGNED item for the new agent, so capacity counts stay right;
* unassigning an open conversation puts it back in its queue (routing offers it again);
* resolving finishes the item; reopening gives it back to its assignee, or to the queue.

When the routing engine itself hands the conversation to an agent (the agent accepts an offer,
`work.assigned`), `conversation_assignee_from_routing` (run by `channels_inbox.subscribers`)
records that agent as the assignee.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_inbox.models import Conversation, ConversationStatus
from crm.audit import audit_record
from crm.events import publish
from crm.models import AgentProfile, Membership, Role, User, WorkItem
from crm.services.routing import work_item_cancel, work_item_enqueue, work_item_finish
from crm.tenancy import ROLE_RANK, Principal

# How routing work items point at a conversation (WorkItem.ref_type / ref_id = conversation pk).
REF_TYPE = "channels_inbox.conversation"

LIVE_ITEM_STATUSES = (
    WorkItem.Status.WAITING,
    WorkItem.Status.OFFERED,
    WorkItem.Status.ASSIGNED,
)


def live_work_item(conversation: Conversation) -> WorkItem | None:
    """The conversation's routing item still waiting, offered or assigned (newest), if any."""
    return (
        WorkItem.objects.filter(
            ref_type=REF_TYPE, ref_id=str(conversation.pk), status__in=LIVE_ITEM_STATUSES
        )
        .order_by("-pk")
        .first()
    )


def _actor_user_id(actor: Principal | None) -> int | None:
    return actor.user.pk if actor is not None and actor.user is not None else None


def _check_actor(
    actor: Principal | None, conversation: Conversation, minimum: str = Role.AGENT
) -> None:
    """System calls (actor None) may do anything; people need `minimum` in the tenant."""
    if actor is None:
        return
    if not actor.has_role(conversation.tenant_id, minimum):
        raise PermissionDenied(_("Your role does not allow changing conversations."))


def _check_assignee(conversation: Conversation, assignee: User) -> AgentProfile | None:
    """The assignee must work for the conversation's tenant as an agent (or above); returns
    their agent profile there (None for a supervisor without one)."""
    role = (
        Membership.objects.filter(user=assignee, tenant_id=conversation.tenant_id)
        .values_list("role", flat=True)
        .first()
    )
    if role is None or not assignee.is_active:
        raise ValidationError({"assignee": [_("This person does not work for this tenant.")]})
    if ROLE_RANK[Role(role)] < ROLE_RANK[Role.AGENT]:
        raise ValidationError({"assignee": [_("Only agents can be given conversations.")]})
    return AgentProfile.objects.filter(tenant_id=conversation.tenant_id, user=assignee).first()


def _record_assigned_item(conversation: Conversation, agent: AgentProfile) -> WorkItem:
    """An ASSIGNED routing item for `agent`, made directly rather than offered.

    Why not `work_item_enqueue`: routing would offer the conversation to whichever agent it
    finds best, but here a person chose the agent. crm has no "assign to this agent" service,
    so the row is written as `offer_accept` leaves it, and `work.assigned` is announced the
    same way (with no offer) so the agent's work list refreshes live.
    """
    now = timezone.now()
    item = WorkItem.objects.create(
        tenant_id=conversation.tenant_id,
        queue_id=conversation.queue_id,
        kind=WorkItem.Kind.CONVERSATION,
        channel_kind=conversation.channel.routing_kind,
        ref_type=REF_TYPE,
        ref_id=str(conversation.pk),
        status=WorkItem.Status.ASSIGNED,
        agent=agent,
        assigned_at=now,
    )
    publish(
        "work.assigned",
        tenant_id=item.tenant_id,
        agent_user_id=agent.user_id,
        payload={
            "work_item_id": item.pk,
            "queue_id": item.queue_id,
            "kind": item.kind,
            "channel_kind": item.channel_kind,
            "ref_type": item.ref_type,
            "ref_id": item.ref_id,
            "offer_id": None,
            "agent_id": agent.pk,
        },
    )
    return item


def _enqueue(conversation: Conversation) -> WorkItem:
    return work_item_enqueue(
        tenant_id=conversation.tenant_id,
        queue=conversation.queue,
        kind=WorkItem.Kind.CONVERSATION,
        channel_kind=conversation.channel.routing_kind,
        ref_type=REF_TYPE,
        ref_id=str(conversation.pk),
    )


def _lock(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("channel", "queue")
        .get(pk=conversation.pk)
    )


def _publish_assigned(
    conversation: Conversation, previous_id: int | None, by_user_id: int | None
) -> None:
    publish(
        "conversation.assigned",
        tenant_id=conversation.tenant_id,
        payload={
            "conversation_id": conversation.pk,
            "assignee_id": conversation.assignee_id,
            "previous_assignee_id": previous_id,
            "by_user_id": by_user_id,
        },
    )


@transaction.atomic
def conversation_assign(
    *, conversation: Conversation, assignee: User | None, actor: Principal | None
) -> Conversation:
    """Give the conversation to `assignee` (an agent of its tenant) or unassign it (None).

    The routing item moves with it (see the module docstring). Agents may take unassigned
    conversations and pass on their own; taking one from a colleague is a supervisor's call.
    Raises ValidationError for an assignee outside the tenant or below the agent role, and
    PermissionDenied for an actor whose role does not allow it. Assigning to the current
    assignee is a no-op. Locks the conversation row. Publishes `conversation.assigned`.
    """
    _check_actor(actor, conversation)
    locked = _lock(conversation)
    previous_id = locked.assignee_id
    new_id = assignee.pk if assignee is not None else None
    if (
        actor is not None
        and previous_id is not None
        and previous_id != _actor_user_id(actor)
        and not actor.has_role(locked.tenant_id, Role.SUPERVISOR)
    ):
        raise PermissionDenied(_("Only supervisors can take a conversation from a colleague."))
    agent = _check_assignee(locked, assignee) if assignee is not None else None
    if previous_id == new_id:
        return locked
    item = live_work_item(locked)
    if item is not None:
        work_item_cancel(item=item, reason="reassigned")
    if locked.status != ConversationStatus.RESOLVED:
        if agent is not None:
            _record_assigned_item(locked, agent)
        elif assignee is None:
            _enqueue(locked)
    locked.assignee = assignee
    locked.save(update_fields=["assignee"])
    audit_record(
        actor=actor, action="update", obj=locked, changes={"assignee": [previous_id, new_id]}
    )
    _publish_assigned(locked, previous_id, _actor_user_id(actor))
    conversation.assignee = assignee
    return locked


@transaction.atomic
def conversation_set_status(
    *, conversation: Conversation, status: str, actor: Principal | None
) -> Conversation:
    """Open, pend or resolve. Resolving finishes the routing item (the agent's capacity is
    freed) and records `resolved_at`; reopening hands the conversation back to its assignee,
    or to its queue when nobody holds it. Setting the current status is a no-op. Raises
    ValidationError for an unknown status. Publishes `conversation.status_changed`.
    """
    if status not in ConversationStatus.values:
        raise ValidationError(
            {"status": [_("Unknown status. Use one of: %s.") % ", ".join(ConversationStatus)]}
        )
    _check_actor(actor, conversation)
    locked = _lock(conversation)
    previous = locked.status
    if previous == status:
        return locked
    item = live_work_item(locked)
    now = timezone.now()
    if status == ConversationStatus.RESOLVED:
        locked.resolved_at = now
        if item is not None:
            if item.status == WorkItem.Status.ASSIGNED:
                work_item_finish(item=item)
            else:
                work_item_cancel(item=item, reason="resolved")
    elif previous == ConversationStatus.RESOLVED:
        locked.resolved_at = None
        if item is None:
            agent = (
                AgentProfile.objects.filter(
                    tenant_id=locked.tenant_id, user_id=locked.assignee_id
                ).first()
                if locked.assignee_id
                else None
            )
            if agent is not None:
                _record_assigned_item(locked, agent)
            else:
                _enqueue(locked)
    locked.status = status
    locked.save(update_fields=["status", "resolved_at"])
    audit_record(actor=actor, action="update", obj=locked, changes={"status": [previous, status]})
    publish(
        "conversation.status_changed",
        tenant_id=locked.tenant_id,
        payload={
            "conversation_id": locked.pk,
            "status": status,
            "previous_status": previous,
            "by_user_id": _actor_user_id(actor),
        },
    )
    conversation.status, conversation.resolved_at = locked.status, locked.resolved_at
    return locked


@transaction.atomic
def conversation_assignee_from_routing(*, conversation_id: int, user_id: int) -> bool:
    """The routing engine gave the conversation to the agent `user_id` (they accepted its
    offer): record them as the assignee. Idempotent; returns whether anything changed. A
    conversation that no longer exists is ignored."""
    locked = Conversation.objects.select_for_update().filter(pk=conversation_id).only("pk").first()
    if locked is None:
        return False
    locked = Conversation.objects.get(pk=conversation_id)
    if locked.assignee_id == user_id:
        return False
    previous_id = locked.assignee_id
    locked.assignee_id = user_id
    locked.save(update_fields=["assignee"])
    _publish_assigned(locked, previous_id, None)
    return True


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation, actor: Principal | None) -> bool:
    """The assignee has seen the conversation: its unread count goes to zero. Returns whether
    it changed (nothing is published when it was already read)."""
    _check_actor(actor, conversation, minimum=Role.VIEWER)
    updated = Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(
        unread_count=0
    )
    conversation.unread_count = 0
    return bool(updated)


@transaction.atomic
def conversations_follow_merge(*, tenant_id: int, source_id: int, target_id: int) -> int:
    """A contact was merged into another (crm's `contact_merge`, which cannot know about the
    inbox): the source's conversations move to the target, so the customer's whole history
    shows on one record. Idempotent; returns how many conversations moved."""
    return Conversation.objects.filter(tenant_id=tenant_id, contact_id=source_id).update(
        contact_id=target_id
    )
