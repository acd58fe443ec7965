"""Per-queue voice settings, callbacks requested by waiting callers, and outbound calls."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import AgentProfile, Contact, Queue, TenantOwned, Ticket, WorkItem
from telephony.models.calls import Call


class MaxWaitAction(models.TextChoices):
    VOICEMAIL = "voicemail", _("Offer voicemail")
    CALLBACK = "callback", _("Book a callback (the caller keeps their place)")


class QueueVoiceSettings(TenantOwned):
    """Voice behaviour of one crm queue (crm knows nothing of telephony, so it lives here).

    `recording_policy` empty: the called number's policy applies. `callback_enabled`: waiting
    callers hear "press 1 to be called back". `max_wait_action`: what happens when a caller
    has waited the queue's `max_wait_seconds`.
    """

    queue = models.OneToOneField(Queue, on_delete=models.CASCADE, related_name="+")
    recording_policy = models.CharField(
        max_length=16,
        blank=True,
        choices=[
            ("none", _("Do not record")),
            ("record", _("Record")),
            ("announce", _("Announce, then record")),
        ],
        help_text=_("Empty: the called number's policy"),
    )
    callback_enabled = models.BooleanField(
        default=False, help_text=_("Waiting callers may press 1 to be called back")
    )
    max_wait_action = models.CharField(
        max_length=16, choices=MaxWaitAction.choices, default=MaxWaitAction.VOICEMAIL
    )

    class Meta:
        verbose_name = "queue voice settings"
        verbose_name_plural = "queue voice settings"

    def __str__(self) -> str:
        return f"Voice settings of queue {self.queue_id}"


class CallbackRequest(TenantOwned):
    """A caller asked to be called back. `work_item` is the caller's own work item, converted
    to kind "callback" so it keeps its place in line; when an agent accepts it, `outbound_call`
    is placed (the agent's browser first, then `number`)."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for an agent")
        DIALLING = "dialling", _("Dialling")
        # The customer did not answer: tried again at `next_attempt_at` (telephony.services.
        # callbacks.callbacks_tick puts it back in the queue).
        RETRY = "retry", _("Waiting to try again")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired: nobody reached the customer in time")

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="callback_request")
    work_item = models.OneToOneField(
        WorkItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.CharField(max_length=20, help_text=_("E.164"))
    reason = models.CharField(max_length=16, blank=True, help_text=_("pressed or max_wait"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    outbound_call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0, help_text=_("Calls placed so far"))
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Not reached by then: the callback expires")
    )

    class Meta:
        ordering = ["created_at", "id"]
        # The once-a-minute tick looks for due retries and overdue callbacks by status.
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"Callback to {self.number}"


class OutboundCall(TenantOwned):
    """Who placed an outbound call and why: click-to-call from a contact or ticket, or a
    callback. The `call` row (direction outbound-api) is the agent's leg; its TwiML dials the
    customer with the tenant's caller ID."""

    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="outbound")
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Outbound call {self.call_id}"
