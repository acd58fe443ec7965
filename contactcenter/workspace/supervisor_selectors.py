"""Reads for the supervisor wallboard (/supervisor/); same rules as workspace.selectors: every
read starts from a principal, is limited to one tenant the principal supervises, and runs a fixed
number of queries whatever the amount of data (tests/workspace/test_supervisor_queries.py).

"Today" is the supervisor's own day: from midnight in the time zone the caller passes (the
user's, activated by crm.middleware.UserTimezoneMiddleware) until now.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from django.db.models import Count, Min, Q, QuerySet, Value
from django.db.models.functions import ExtractHour, ExtractMinute, Floor
from django.utils import timezone

from channels_inbox.models import Conversation, ConversationStatus, Message, MessageDirection
from crm.models import (
    AgentProfile,
    Presence,
    PresenceLog,
    Queue,
    Role,
    Tenant,
    Ticket,
    TicketStatus,
    WorkItem,
)
from crm.selectors.agents import presence_log_for, queues_for, waiting_work_for
from crm.tenancy import Principal, scope
from telephony.metrics import QueueMetrics, queue_interval_report, queue_metrics
from telephony.models import Call, CallStatus

WORK_LIST_LIMIT = 50
PRESENCE_LOG_LIMIT = 30
AGENT_LOG_LIMIT = 200
INTERVAL_MINUTES = 15
# Wallboard order of agent states: who can take work first, who is gone last.
PRESENCE_ORDER = {
    Presence.AVAILABLE: 0,
    Presence.BUSY: 1,
    Presence.AFTER_CALL_WORK: 2,
    Presence.BREAK: 3,
    Presence.OFFLINE: 4,
}
OPEN_TICKET_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


def supervised_tenants(principal: Principal) -> list[Tenant]:
    """Tenants where the principal is a supervisor or manager (superusers: all)."""
    tenants = scope(Tenant.objects.order_by("name", "pk"), principal)
    return [t for t in tenants if principal.has_role(t.pk, Role.SUPERVISOR)]


def for_one_tenant(principal: Principal, tenant_id: int) -> Principal:
    """The same person, seeing only `tenant_id`: selectors that scope to every tenant of the
    principal (telephony.metrics) then count that tenant alone."""
    return Principal(user=principal.user, roles={tenant_id: principal.role_in(tenant_id) or ""})


def start_of_day(now: datetime, tz: tzinfo) -> datetime:
    """Midnight of `now`'s date in `tz`, as an aware datetime."""
    local = timezone.localtime(now, tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


# --- queues and today's call metrics ---------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    queue: Queue
    waiting: int
    offered: int
    assigned: int
    longest_wait_seconds: float
    oldest_waiting_since: datetime | None
    # Today's inbound calls to this queue (telephony.metrics definitions).
    calls_offered: int = 0
    calls_answered: int = 0
    calls_abandoned: int = 0
    service_level: float | None = None
    average_speed_of_answer: float | None = None


def wallboard_queues(
    *,
    principal: Principal,
    tenant_id: int,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> list[QueueRow]:
    """Per queue of the tenant: work waiting, offered and in progress, the longest wait, and
    today's call figures (offered, answered, abandoned, service level, ASA). Three queries."""
    now = now or timezone.now()
    tz = tz or timezone.get_current_timezone()
    queues = list(queues_for(principal).filter(tenant_id=tenant_id).prefetch_related(None))
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
    # One "interval" of a whole day gives one row per queue with today's metrics, in one query.
    today = {
        row["queue_id"]: row
        for row in queue_interval_report(
            principal=for_one_tenant(principal, tenant_id),
            since=start_of_day(now, tz),
            until=now + timedelta(seconds=1),
            interval_minutes=24 * 60,
            tz=tz,
        )
    }
    rows = []
    for queue in queues:
        row = figures.get(queue.pk, {})
        day = today.get(queue.pk, {})
        oldest = row.get("oldest")
        rows.append(
            QueueRow(
                queue=queue,
                waiting=row.get("waiting", 0),
                offered=row.get("offered", 0),
                assigned=row.get("assigned", 0),
                longest_wait_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
                oldest_waiting_since=oldest,
                calls_offered=day.get("offered", 0),
                calls_answered=day.get("answered", 0),
                calls_abandoned=day.get("abandoned", 0),
                service_level=day.get("service_level"),
                average_speed_of_answer=day.get("average_speed_of_answer"),
            )
        )
    return rows


@dataclass(frozen=True)
class Summary:
    """The headline figures of the tenant, for the top of the wallboard."""

    waiting: int
    oldest_waiting_since: datetime | None
    agents_by_state: dict[str, int]
    agents_total: int
    unassigned_conversations: int
    today: QueueMetrics

    @property
    def agents_by_state_list(self) -> list[tuple[str, str, int]]:
        """(value, label, count) for every presence, in wallboard order."""
        return [
            (value, label, self.agents_by_state.get(value, 0))
            for value, label in sorted(Presence.choices, key=lambda c: PRESENCE_ORDER[c[0]])
        ]


def wallboard_summary(
    *,
    principal: Principal,
    tenant_id: int,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> Summary:
    """Waiting work, agents per state, unassigned conversations and today's call metrics of the
    whole tenant. Four queries."""
    now = now or timezone.now()
    tz = tz or timezone.get_current_timezone()
    work = (
        scope(WorkItem.objects.all(), principal)
        .filter(tenant_id=tenant_id, status=WorkItem.Status.WAITING)
        .aggregate(waiting=Count("pk"), oldest=Min("enqueued_at"))
    )
    states = dict(
        scope(AgentProfile.objects.all(), principal)
        .filter(tenant_id=tenant_id)
        .values_list("presence")
        .annotate(n=Count("pk"))
        .order_by()
    )
    unassigned = unassigned_conversations_qs(principal=principal, tenant_id=tenant_id).count()
    today = queue_metrics(
        principal=for_one_tenant(principal, tenant_id),
        since=start_of_day(now, tz),
        until=now + timedelta(seconds=1),
    )
    return Summary(
        waiting=work["waiting"],
        oldest_waiting_since=work["oldest"],
        agents_by_state=states,
        agents_total=sum(states.values()),
        unassigned_conversations=unassigned,
        today=today,
    )


# --- agents and their current work -----------------------------------------------------------


@dataclass
class AgentRow:
    agent: AgentProfile
    call: Call | None = None  # the call the agent is on (ringing or talking), if any
    offered: int = 0  # work items ringing for the agent
    assigned: int = 0  # work items the agent holds
    conversations: int = 0  # open conversations assigned to the agent
    tickets: int = 0  # open tickets assigned to the agent
    kinds: list[str] = field(default_factory=list)  # kinds of the items held, e.g. ["call"]

    @property
    def active_work(self) -> int:
        return self.offered + self.assigned


def wallboard_agents(*, principal: Principal, tenant_id: int) -> list[AgentRow]:
    """The tenant's agents, those who can take work first, each with what they are doing now:
    the live call, work offered and held, open conversations and tickets. Five queries."""
    agents = list(
        scope(AgentProfile.objects.select_related("user"), principal).filter(tenant_id=tenant_id)
    )
    rows = {agent.pk: AgentRow(agent=agent) for agent in agents}
    by_user = {agent.user_id: rows[agent.pk] for agent in agents}
    items = (
        WorkItem.objects.filter(
            tenant_id=tenant_id, agent__isnull=False, status__in=WorkItem.ACTIVE_STATUSES
        )
        .values_list("agent_id", "status", "kind")
        .order_by("enqueued_at")
    )
    for agent_id, status, kind in items:
        row = rows.get(agent_id)
        if row is None:
            continue
        if status == WorkItem.Status.OFFERED:
            row.offered += 1
        else:
            row.assigned += 1
            if kind not in row.kinds:
                row.kinds.append(kind)
    calls = Call.objects.filter(
        tenant_id=tenant_id,
        agent__isnull=False,
        ended_at__isnull=True,
        status__in=[CallStatus.RINGING, CallStatus.IN_PROGRESS],
    ).select_related("contact")
    for call in calls.order_by("started_at"):
        row = rows.get(call.agent_id)
        if row is not None and row.call is None:
            row.call = call
    conversations = (
        Conversation.objects.filter(
            tenant_id=tenant_id,
            assignee_id__in=list(by_user),
            status__in=[ConversationStatus.OPEN, ConversationStatus.PENDING],
        )
        .values_list("assignee_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for user_id, n in conversations:
        by_user[user_id].conversations = n
    tickets = (
        Ticket.objects.filter(
            tenant_id=tenant_id, assignee_id__in=list(by_user), status__in=OPEN_TICKET_STATUSES
        )
        .values_list("assignee_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for user_id, n in tickets:
        by_user[user_id].tickets = n
    return sorted(
        rows.values(),
        key=lambda r: (PRESENCE_ORDER.get(r.agent.presence, 9), r.agent.user.get_username()),
    )


def assignable_agents(*, principal: Principal, tenant_id: int) -> list[AgentProfile]:
    """The tenant's agents by name, those who can take work first (one query)."""
    agents = scope(AgentProfile.objects.select_related("user"), principal).filter(
        tenant_id=tenant_id
    )
    return sorted(agents, key=lambda a: (PRESENCE_ORDER.get(a.presence, 9), a.user.get_username()))


def agent_for_supervisor(*, principal: Principal, tenant_id: int, agent_id: int) -> AgentProfile:
    """One agent of a tenant the principal supervises; AgentProfile.DoesNotExist otherwise."""
    return scope(AgentProfile.objects.select_related("user", "tenant"), principal).get(
        pk=agent_id, tenant_id=tenant_id
    )


# --- conversations ---------------------------------------------------------------------------


def unassigned_conversations_qs(*, principal: Principal, tenant_id: int) -> QuerySet:
    return scope(Conversation.objects.all(), principal).filter(
        tenant_id=tenant_id, status=ConversationStatus.OPEN, assignee__isnull=True
    )


def wallboard_unassigned_conversations(
    *, principal: Principal, tenant_id: int
) -> list[Conversation]:
    """Open conversations nobody holds, the longest waiting first (one query)."""
    return list(
        unassigned_conversations_qs(principal=principal, tenant_id=tenant_id)
        .select_related("contact", "channel", "queue")
        .order_by("last_message_at", "pk")[:WORK_LIST_LIMIT]
    )


def wallboard_held_conversations(*, principal: Principal, tenant_id: int) -> list[Conversation]:
    """Open conversations agents hold, the longest without an answer first (one query): what a
    supervisor moves to someone else when an agent is swamped or leaves."""
    return list(
        scope(Conversation.objects.all(), principal)
        .filter(tenant_id=tenant_id, status=ConversationStatus.OPEN, assignee__isnull=False)
        .select_related("contact", "channel", "queue", "assignee")
        .order_by("last_message_at", "pk")[:WORK_LIST_LIMIT]
    )


def conversation_for_supervisor(
    *, principal: Principal, tenant_id: int, conversation_id: int
) -> Conversation:
    """One conversation of a tenant the principal supervises; DoesNotExist otherwise."""
    return scope(Conversation.objects.select_related("tenant"), principal).get(
        pk=conversation_id, tenant_id=tenant_id
    )


def wallboard_unassigned(*, principal: Principal, tenant_id: int) -> list[WorkItem]:
    """Work waiting for an agent, in serving order."""
    return list(waiting_work_for(principal=principal).filter(tenant_id=tenant_id)[:WORK_LIST_LIMIT])


# --- today's volume per interval -------------------------------------------------------------


@dataclass(frozen=True)
class VolumeSlot:
    start: datetime  # aware, in the supervisor's time zone
    calls: int
    messages: int

    @property
    def total(self) -> int:
        return self.calls + self.messages


def _slot_counts(queryset: QuerySet, field_name: str, tz: tzinfo) -> Counter[int]:
    minute_of_day = ExtractHour(field_name, tzinfo=tz) * Value(60) + ExtractMinute(
        field_name, tzinfo=tz
    )
    rows = (
        queryset.annotate(slot=Floor(minute_of_day / Value(INTERVAL_MINUTES)))
        .values_list("slot")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return Counter({int(slot): n for slot, n in rows})


def volume_today(
    *,
    principal: Principal,
    tenant_id: int,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> list[VolumeSlot]:
    """Inbound calls (by the time they rang in) and inbound messages (by arrival) per 15-minute
    interval of today in `tz`, from midnight to the current interval. Two queries."""
    now = now or timezone.now()
    tz = tz or timezone.get_current_timezone()
    midnight = start_of_day(now, tz)
    until = now + timedelta(seconds=1)
    calls = _slot_counts(
        scope(Call.objects.all(), principal).filter(
            tenant_id=tenant_id,
            direction=Call.Direction.INBOUND,
            started_at__gte=midnight,
            started_at__lt=until,
        ),
        "started_at",
        tz,
    )
    messages = _slot_counts(
        scope(Message.objects.all(), principal).filter(
            tenant_id=tenant_id,
            direction=MessageDirection.INBOUND,
            created_at__gte=midnight,
            created_at__lt=until,
        ),
        "created_at",
        tz,
    )
    local_now = timezone.localtime(now, tz)
    current = (local_now.hour * 60 + local_now.minute) // INTERVAL_MINUTES
    width = timedelta(minutes=INTERVAL_MINUTES)
    slots = []
    for slot in range(current + 1):
        # Wall-clock arithmetic on the local midnight; a DST change day shifts labels by an hour
        # for part of the day, which a 15-minute chart shows honestly as the clock read.
        start = midnight + slot * width
        slots.append(VolumeSlot(start=start, calls=calls[slot], messages=messages[slot]))
    return slots


# --- presence log ----------------------------------------------------------------------------


def remote_presence_log(
    *,
    principal: Principal,
    tenant_id: int,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> list[PresenceLog]:
    """Today's presence changes of the tenant's remote agents, newest first (one query)."""
    now = now or timezone.now()
    tz = tz or timezone.get_current_timezone()
    return list(
        presence_log_for(principal=principal, since=start_of_day(now, tz)).filter(
            tenant_id=tenant_id, agent__works_remotely=True
        )[:PRESENCE_LOG_LIMIT]
    )


def agent_presence_log(*, principal: Principal, agent: AgentProfile) -> list[PresenceLog]:
    """One agent's presence periods, newest first (one query)."""
    return list(presence_log_for(principal=principal, agent=agent)[:AGENT_LOG_LIMIT])
