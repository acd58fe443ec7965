"""Reads of agents, queues, the presence log and waiting work, scoped to what the principal may
see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Prefetch, Q, QuerySet
from django.utils import timezone

from crm.models import AgentProfile, AgentSkill, PresenceLog, Queue, Role, WorkItem
from crm.services.routing import waiting_order
from crm.tenancy import Principal, scope


def agents_for(principal: Principal) -> QuerySet[AgentProfile]:
    """The agents `principal` may see with their user, skills (and levels), teams and queues
    loaded: four queries for any number of agents. Presence is a column of the row."""
    queryset = (
        AgentProfile.objects.select_related("user")
        .prefetch_related(
            Prefetch(
                "agent_skills",
                queryset=AgentSkill.objects.select_related("skill").order_by("skill__name"),
            ),
            "teams",
            "queues",
        )
        .order_by("user__username", "pk")
    )
    return scope(queryset, principal)


def queues_for(principal: Principal) -> QuerySet[Queue]:
    """The queues `principal` may see, with required skills loaded and `waiting_count` (items
    waiting now) annotated."""
    queryset = (
        Queue.objects.prefetch_related("required_skills")
        .annotate(
            waiting_count=Count("work_items", filter=Q(work_items__status=WorkItem.Status.WAITING))
        )
        .order_by("name", "pk")
    )
    return scope(queryset, principal)


def presence_log_for(
    *,
    principal: Principal,
    agent: AgentProfile | None = None,
    since: datetime | None = None,
) -> QuerySet[PresenceLog]:
    """When each agent was in which state, newest first.

    Supervisors and managers read their tenants' whole log; an agent reads only their own rows;
    viewers read nothing. `since` keeps the periods still running at or after that time (a
    period that started earlier but ended after `since` is included).
    """
    queryset = PresenceLog.objects.select_related("agent__user", "changed_by")
    tenant_ids = principal.tenant_ids()
    if tenant_ids is not None:
        staff_tenants = [t for t in tenant_ids if principal.has_role(t, Role.SUPERVISOR)]
        own_rows = Q(agent__user=principal.user) if principal.user is not None else Q(pk=None)
        queryset = queryset.filter(
            Q(tenant_id__in=staff_tenants) | (own_rows & Q(tenant_id__in=tenant_ids))
        )
    if agent is not None:
        queryset = queryset.filter(agent=agent)
    if since is not None:
        queryset = queryset.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=since))
    return queryset.order_by("-started_at", "-pk")


def waiting_work_for(*, principal: Principal, queue: Queue | None = None) -> QuerySet[WorkItem]:
    """WAITING items `principal` may see, in the order the engine serves them (priority of item
    plus queue, then age), with their queue loaded."""
    queryset = WorkItem.objects.filter(status=WorkItem.Status.WAITING).select_related("queue")
    if queue is not None:
        queryset = queryset.filter(queue=queue)
    return waiting_order(scope(queryset, principal))


@dataclass(frozen=True)
class QueueStats:
    waiting: int
    offered: int
    assigned: int
    # Seconds the oldest waiting item has waited; 0 when nothing waits.
    longest_wait_seconds: float
    oldest_waiting_since: datetime | None


def queue_stats(*, queue: Queue, now: datetime | None = None) -> QueueStats:
    """Live figures for one queue in one query. The caller has established that the queue is
    visible (e.g. fetched it through `queues_for`)."""
    now = now or timezone.now()
    waiting = Q(status=WorkItem.Status.WAITING)
    row = WorkItem.objects.filter(
        queue=queue,
        status__in=[
            WorkItem.Status.WAITING,
            WorkItem.Status.OFFERED,
            WorkItem.Status.ASSIGNED,
        ],
    ).aggregate(
        waiting=Count("pk", filter=waiting),
        offered=Count("pk", filter=Q(status=WorkItem.Status.OFFERED)),
        assigned=Count("pk", filter=Q(status=WorkItem.Status.ASSIGNED)),
        oldest=Min("enqueued_at", filter=waiting),
    )
    oldest = row["oldest"]
    return QueueStats(
        waiting=row["waiting"],
        offered=row["offered"],
        assigned=row["assigned"],
        longest_wait_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        oldest_waiting_since=oldest,
    )
