"""Agents, skills, teams, queues, business hours and presence."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models.tenancy import TenantOwned, validate_time_zone


class ChannelKind(models.TextChoices):
    """How work occupies an agent. Capacity is counted per kind.

    voice: a phone call; chat: SMS, WhatsApp, Messenger, Instagram, web chat (near-real-time);
    email: email, fax, web forms and post (asynchronous).
    """

    VOICE = "voice", _("Voice")
    CHAT = "chat", _("Chat")
    EMAIL = "email", _("Email")


DEFAULT_CAPACITY = {ChannelKind.VOICE: 1, ChannelKind.CHAT: 3, ChannelKind.EMAIL: 5}


class Presence(models.TextChoices):
    OFFLINE = "offline", _("Offline")
    AVAILABLE = "available", _("Available")
    BUSY = "busy", _("Busy")
    AFTER_CALL_WORK = "after_call_work", _("After-call work")
    BREAK = "break", _("Break")


class Skill(TenantOwned):
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="skill_unique_name")]

    def __str__(self) -> str:
        return self.name


class Team(TenantOwned):
    name = models.CharField(max_length=100)
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BusinessHours(TenantOwned):
    """A weekly schedule with holidays, in its own time zone."""

    name = models.CharField(max_length=100)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])

    class Meta:
        verbose_name_plural = "business hours"

    def __str__(self) -> str:
        return self.name


class BusinessHoursRule(models.Model):
    schedule = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="rules")
    weekday = models.PositiveSmallIntegerField(
        choices=[(i, d) for i, d in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])]
    )
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Holiday(models.Model):
    schedule = models.ForeignKey(BusinessHours, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class Queue(TenantOwned):
    """Where waiting work lines up until the routing engine offers it to an agent."""

    name = models.CharField(max_length=100)
    channel_kinds = models.JSONField(
        default=list, help_text=_("Channel kinds this queue takes: voice, chat, email")
    )
    required_skills = models.ManyToManyField(Skill, blank=True, related_name="queues")
    # Higher first: a queue's priority is added to each item's own priority.
    priority = models.SmallIntegerField(default=0)
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.SET_NULL, related_name="queues"
    )
    max_wait_seconds = models.PositiveIntegerField(default=300)
    overflow_queue = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="queue_unique_name")]

    def __str__(self) -> str:
        return self.name


class AgentProfile(TenantOwned):
    """A user working as an agent for one tenant. Presence is changed only through services."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profiles"
    )
    skills = models.ManyToManyField(Skill, through="AgentSkill", blank=True, related_name="agents")
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    queues = models.ManyToManyField(Queue, blank=True, related_name="agents")
    capacity = models.JSONField(
        default=dict, blank=True, help_text=_('Per channel kind, e.g. {"voice": 1, "chat": 3}')
    )
    presence = models.CharField(max_length=20, choices=Presence.choices, default=Presence.OFFLINE)
    presence_reason = models.CharField(max_length=100, blank=True)
    presence_changed_at = models.DateTimeField(default=timezone.now)
    # When the agent last finished or declined work; longest idle is offered first.
    last_idle_at = models.DateTimeField(default=timezone.now)
    works_remotely = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="agent_unique_tenant_user")
        ]
        indexes = [models.Index(fields=["tenant", "presence", "last_idle_at"])]

    def __str__(self) -> str:
        return str(self.user)

    def capacity_for(self, channel_kind: str) -> int:
        if channel_kind in self.capacity:
            return int(self.capacity[channel_kind])
        return DEFAULT_CAPACITY.get(channel_kind, 1)


class AgentSkill(models.Model):
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="agent_skills")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="+")
    level = models.PositiveSmallIntegerField(default=5, help_text=_("1 (novice) to 10 (expert)"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "skill"], name="agentskill_unique")]

    def __str__(self) -> str:
        return f"{self.skill} ({self.level})"


class PresenceLog(TenantOwned):
    """One row per presence period; `ended_at` is null for the current one."""

    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="presence_log")
    presence = models.CharField(max_length=20, choices=Presence.choices)
    reason = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["agent", "-started_at"])]
