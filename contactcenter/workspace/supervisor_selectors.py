"""Reads for the supervisor wallboard (/supervisor/); same rules as workspace.selectors: every
read starts from a principal and runs a fixed number of queries whatever the amount of data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q
from django.utils import timezone

from crm.models import (
    AgentProfile,
    Queue,
    Role,
    Tenant,
    WorkItem,
)
from crm.selectors.agents import agents_for, queues_for, waiting_work_for
from crm.tenancy import Principal, scope

WORK_LIST_LIMIT = 50


def supervised_tenants(principal: Principal) -> list[Tenant]:
    """Tenants where the principal is a supervisor or manager (superusers: all)."""
    tenants = scope(Tenant.objects.order_by("name", "pk"), principal)
    return [t for t in tenants if principal.has_role(t.pk, Role.SUPERVISOR)]


@dataclass(frozen=True)
class QueueRow:
    queue: Queue
    waiting: int
    offered: int
    assigned: int
    longest_wait_seconds: float
    oldest_waiting_since: datetime | None


def wallboard_queues(
    *, principal: Principal, tenant_id: int, now: datetime | None = None
) -> list[QueueRow]:
    """Per queue of the tenant: items waiting, offered and assigned, and the longest wait.

    The same figures as `crm.selectors.agents.queue_stats`, but for every queue in one grouped
    query instead of one query per queue, so the wallboard's cost does not grow with queues.
    """
    now = now or timezone.now()
    queues = list(queues_for(principal).filter(tenant_id=tenant_id))
    waiting = Q(status=WorkItem.Status.WAITING)
    figures = {
        row["queue_id"]: row
        for row in WorkItem.objects.filter(
            tenant_id=tenant_id,
            status__in=[
                WorkItem.Status.WAITING,
                WorkItem.Status.OFFERED,
                WorkItem.Status.ASSIGNED,
            ],
        )
        .values("queue_id")
        .annotate(
            waiting=Count("pk", filter=waiting),
            offered=Count("pk", filter=Q(status=WorkItem.Status.OFFERED)),
            assigned=Count("pk", filter=Q(status=WorkItem.Status.ASSIGNED)),
            oldest=Min("enqueued_at", filter=waiting),
        )
        .order_by()
    }
    rows = []
    for queue in queues:
        row = figures.get(queue.pk, {})
        oldest = row.get("oldest")
        rows.append(
            QueueRow(
                queue=queue,
                waiting=row.get("waiting", 0),
                offered=row.get("offered", 0),
                assigned=row.get("assigned", 0),
                longest_wait_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
                oldest_waiting_since=oldest,
            )
        )
    return rows


def wallboard_agents(*, principal: Principal, tenant_id: int) -> list[AgentProfile]:
    """The tenant's agents, online first, each with `active_work` (offered + assigned items)."""
    order = {"available": 0, "busy": 1, "after_call_work": 2, "break": 3, "offline": 4}
    agents = list(
        agents_for(principal)
        .filter(tenant_id=tenant_id)
        .annotate(
            active_work=Count(
                "work_items",
                filter=Q(work_items__status__in=WorkItem.ACTIVE_STATUSES),
            )
        )
    )
    return sorted(agents, key=lambda a: (order.get(a.presence, 9), a.user.get_username()))


def wallboard_unassigned(*, principal: Principal, tenant_id: int) -> list[WorkItem]:
    """Work waiting for an agent, in serving order."""
    return list(waiting_work_for(principal=principal).filter(tenant_id=tenant_id)[:WORK_LIST_LIMIT])
