"""The tenant's phone numbers: where a call to each one goes first."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.identities import normalize_phone
from crm.models import BusinessHours, Queue, TenantOwned


class RecordingPolicy(models.TextChoices):
    NONE = "none", _("Do not record")
    RECORD = "record", _("Record")
    ANNOUNCE_AND_RECORD = "announce", _("Announce, then record")


class PhoneNumber(TenantOwned):
    """A number callers ring. Twilio posts its incoming calls to `/hooks/twilio/voice/`; the
    called number (`To`) finds this row, and with it the tenant.

    A call first meets `entry_menu` (an IVR) or, without one, waits in `entry_queue` directly.
    `business_hours` is checked on arrival; when closed, the menu's after-hours branch applies
    (without a menu the caller hears the closed message).
    """

    number = models.CharField(max_length=20, unique=True, help_text=_("E.164, e.g. +4570123456"))
    name = models.CharField(max_length=100)
    entry_menu = models.ForeignKey(
        "telephony.IvrMenu", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entry_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recording_policy = models.CharField(
        max_length=16, choices=RecordingPolicy.choices, default=RecordingPolicy.NONE
    )
    is_outbound_caller_id = models.BooleanField(
        default=False, help_text=_("Shown to customers on outbound calls (one per tenant)")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(is_outbound_caller_id=True),
                name="phonenumber_one_caller_id_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"

    def clean(self) -> None:
        super().clean()
        if self.number:
            try:
                region = self.tenant.default_region if self.tenant_id else ""
                self.number = normalize_phone(self.number, region=region)
            except ValidationError as exc:
                raise ValidationError({"number": exc.messages}) from exc
        if self.entry_menu_id is None and self.entry_queue_id is None:
            raise ValidationError(_("Choose an entry IVR menu or an entry queue."))
