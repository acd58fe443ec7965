"""Tenants (the client companies a center works for), users, memberships and API keys."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class Tenant(models.Model):
    """A client company the center works for. Every customer-facing row carries one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    language = models.CharField(max_length=8, default="en")
    # The name callers hear in greetings ("Welcome to <greeting name>").
    greeting_name = models.CharField(max_length=200, blank=True)
    # Default region for parsing phone numbers written without a country code ("DK", "PL").
    default_region = models.CharField(max_length=2, default="DK")
    # Ticket numbers are per tenant; services bump this under a row lock.
    last_ticket_number = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantOwned(models.Model):
    """Abstract base of every tenant-scoped model: the one place the `tenant` column is declared."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class User(AbstractUser):
    """A person who logs in. Which tenants they may see comes from their memberships."""

    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    language = models.CharField(max_length=8, default="en")

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Role(models.TextChoices):
    # Ordered from least to most privileged; see crm.tenancy.ROLE_RANK.
    VIEWER = "viewer", _("Viewer (client company, read-only)")
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    MANAGER = "manager", _("Manager")


class Membership(models.Model):
    """A user's role in one tenant. A user may serve several tenants."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class ApiKey(TenantOwned):
    """A per-tenant key for external systems. Only a hash is stored; the key is shown once."""

    name = models.CharField(max_length=100)
    # The first characters of the key, shown in lists so a key can be recognised.
    prefix = models.CharField(max_length=12, db_index=True)
    hashed_key = models.CharField(max_length=128, unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
