"""Conference participants: one row per leg in a call's conference bridge (`cc-call-<id>`).

Written only by `telephony.services.conference` from the conference status callback, so the
rows are what the provider reported, not what we asked for. See
docs/decisions/003-conference-monitoring.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models import AgentProfile, TenantOwned
from telephony.models.calls import Call


class ParticipantRole(models.TextChoices):
    CALLER = "caller", _("Caller")
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    CONSULT = "consult", _("Consulted agent")
    OTHER = "other", _("Other")


class MonitorMode(models.TextChoices):
    NONE = "", _("(not monitoring)")
    LISTEN = "listen", _("Listen")
    WHISPER = "whisper", _("Whisper")
    BARGE = "barge", _("Barge")


class ConferenceParticipant(TenantOwned):
    """One leg in the call's conference. `joined_at` / `left_at` are the provider's timestamps;
    `muted`, `held`, `coaching` are the state of the highest `SequenceNumber` seen, so a
    replayed or reordered delivery leaves the same row."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="participants")
    conference_sid = models.CharField(max_length=64)
    call_sid = models.CharField("CallSid", max_length=64, unique=True)
    role = models.CharField(max_length=16, choices=ParticipantRole.choices)
    # Our label on the participant (`agent-<id>`, `supervisor-<user id>-<mode>`, ...).
    label = models.CharField(max_length=100, blank=True)
    agent = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    muted = models.BooleanField(default=False)
    held = models.BooleanField(default=False)
    coaching = models.BooleanField(default=False)
    monitor_mode = models.CharField(
        max_length=8, choices=MonitorMode.choices, blank=True, default=MonitorMode.NONE
    )
    last_sequence = models.IntegerField(default=-1)

    class Meta:
        ordering = ["joined_at", "id"]
        indexes = [models.Index(fields=["call", "role"])]

    def __str__(self) -> str:
        return f"{self.role} {self.call_sid} in {self.conference_sid}"

    @property
    def present(self) -> bool:
        return self.joined_at is not None and self.left_at is None
