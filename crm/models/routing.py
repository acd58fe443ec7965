"""Work items waiting for agents, and the offers the routing engine makes."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models.agents import AgentProfile, ChannelKind, Queue
from crm.models.tenancy import TenantOwned


class WorkItem(TenantOwned):
    """A call, conversation or callback waiting for (or held by) an agent.

    Higher apps create one per thing to route and point at it with `ref_type`/`ref_id`
    (`telephony.call`, `channels_inbox.conversation`, ...). An item in OFFERED or ASSIGNED holds
    one unit of its agent's capacity for `channel_kind`.
    """

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        CONVERSATION = "conversation", _("Conversation")
        CALLBACK = "callback", _("Callback")
        TICKET = "ticket", _("Ticket")

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        OFFERED = "offered", _("Offered")
        ASSIGNED = "assigned", _("Assigned")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE_STATUSES = (Status.OFFERED, Status.ASSIGNED)

    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="work_items")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    ref_type = models.CharField(max_length=64, blank=True)
    ref_id = models.CharField(max_length=64, blank=True)
    priority = models.SmallIntegerField(default=0, help_text=_("Higher is served first"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    agent = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_items"
    )
    enqueued_at = models.DateTimeField(default=timezone.now)
    assigned_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-priority", "enqueued_at", "id"]
        indexes = [
            models.Index(fields=["tenant", "status", "-priority", "enqueued_at"]),
            models.Index(fields=["agent", "status", "channel_kind"]),
            models.Index(fields=["ref_type", "ref_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.ref_type}:{self.ref_id} ({self.status})"


class Offer(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    work_item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="offers")
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="offers")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    offered_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-offered_at", "-id"]
        constraints = [
            # The database itself refuses a second live offer for one item.
            models.UniqueConstraint(
                fields=["work_item"],
                condition=models.Q(status="pending"),
                name="offer_one_pending_per_item",
            )
        ]
        indexes = [models.Index(fields=["status", "expires_at"])]
