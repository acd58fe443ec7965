"""The contact's timeline: one row per thing that happened, from any app."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from crm.models.contacts import Contact
from crm.models.tenancy import TenantOwned
from crm.models.tickets import Ticket


class TimelineEntry(TenantOwned):
    """`kind` is a dotted event name (`ticket.created`, `note.added`, later `call.ended`,
    `message.received`, `survey.answered`). Higher apps point at their own rows through
    `ref_type`/`ref_id` rather than a foreign key, so `crm` never imports upward."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="timeline"
    )
    summary = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    ref_type = models.CharField(max_length=64, blank=True)
    ref_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["contact", "-occurred_at", "-id"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.summary}"
