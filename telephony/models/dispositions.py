"""Disposition codes: how an agent sums up a call at wrap-up, defined per tenant."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models import TenantOwned


class DispositionCode(TenantOwned):
    """One outcome an agent may pick at wrap-up ("resolved", "callback_requested", ...).

    `code` is what the API takes; inactive codes stay on old calls but cannot be chosen.
    """

    code = models.SlugField(max_length=50)
    label = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "label"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="disposition_code_unique")
        ]
        verbose_name = _("disposition code")

    def __str__(self) -> str:
        return self.label
