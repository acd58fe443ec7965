"""Calls, what the provider told us about them, voicemails and recordings."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import AgentProfile, Contact, Queue, Tenant, TenantOwned, Ticket, WorkItem
from telephony.models.dispositions import DispositionCode
from telephony.models.ivr import IvrMenu
from telephony.models.numbers import PhoneNumber


class CallStatus(models.TextChoices):
    """Twilio's call statuses; the last five are terminal and never left."""

    QUEUED = "queued", _("Queued")
    RINGING = "ringing", _("Ringing")
    IN_PROGRESS = "in-progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    BUSY = "busy", _("Busy")
    FAILED = "failed", _("Failed")
    NO_ANSWER = "no-answer", _("No answer")
    CANCELED = "canceled", _("Canceled")


TERMINAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.BUSY,
        CallStatus.FAILED,
        CallStatus.NO_ANSWER,
        CallStatus.CANCELED,
    }
)
# A status only ever moves up this ladder (a late `ringing` cannot reopen a finished call).
STATUS_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.RINGING: 1,
    CallStatus.IN_PROGRESS: 2,
    **dict.fromkeys(TERMINAL_STATUSES, 3),
}


class CallOutcome(models.TextChoices):
    IN_IVR = "", _("(not finished)")
    ANSWERED = "answered", _("Answered by an agent")
    ABANDONED = "abandoned", _("Caller hung up while waiting")
    VOICEMAIL = "voicemail", _("Voicemail")
    FORWARDED = "forwarded", _("Forwarded to an external number")
    ENDED_IN_IVR = "ended_in_ivr", _("Ended in the IVR")
    CLOSED = "closed", _("After hours")
    FAILED = "failed", _("Failed")
    CALLBACK_REQUESTED = "callback_requested", _("Caller asked to be called back")
    NO_ANSWER = "no_answer", _("Outbound: the customer did not answer")


class Call(TenantOwned):
    """One call leg with the customer. Written only by `telephony.services`.

    Timestamps: `started_at` (the call reached us; the provider's earliest status timestamp
    when one arrives), `queued_at`, `offered_at` (an agent's softphone started ringing),
    `answered_at` (the agent answered), `ended_at` (the provider's completion timestamp).
    Durations in seconds are derived from those (talk from Twilio's `DialCallDuration` when
    given), so they do not depend on the order the webhooks arrived in.
    """

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")
        OUTBOUND_API = "outbound-api", _("Outbound (placed by the app)")

    sid = models.CharField("CallSid", max_length=64, unique=True)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    from_number = models.CharField(max_length=64)
    to_number = models.CharField(max_length=64)
    phone_number = models.ForeignKey(
        PhoneNumber, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.RINGING)
    after_hours = models.BooleanField(default=False)
    menu = models.ForeignKey(
        IvrMenu, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    work_item = models.ForeignKey(
        WorkItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The routing offer whose agent is being rung (set by the ring task; guards re-delivery).
    ringing_offer_id = models.BigIntegerField(null=True, blank=True)

    started_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    offered_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    wait_seconds = models.PositiveIntegerField(null=True, blank=True)
    ring_seconds = models.PositiveIntegerField(null=True, blank=True)
    talk_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Time the caller spent on hold while with the agent, and the agent's after-call work
    # (wrap-up); together with talk they make the handle time (telephony.metrics).
    hold_seconds = models.PositiveIntegerField(null=True, blank=True)
    wrapup_seconds = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Twilio's CallDuration")
    )
    abandoned = models.BooleanField(default=False)
    outcome = models.CharField(max_length=24, choices=CallOutcome.choices, blank=True)
    last_sequence_number = models.IntegerField(null=True, blank=True)

    # In the call (telephony.services.incall); hold_seconds / wrapup_seconds above are summed there.
    hold_started_at = models.DateTimeField(null=True, blank=True, help_text=_("Set while held"))
    disposition = models.ForeignKey(
        DispositionCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    wrapup_note = models.TextField(blank=True)
    wrapped_up_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-started_at"]),
            models.Index(fields=["queue", "-started_at"]),
            # Queue metrics select calls by when they were queued (telephony.metrics).
            models.Index(fields=["tenant", "queued_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.from_number} → {self.to_number} ({self.status})"

    @property
    def is_over(self) -> bool:
        return self.status in TERMINAL_STATUSES


class CallEvent(models.Model):
    """One webhook delivery we acted on, keyed so a duplicate is refused by the database.

    `key` is the provider's natural key: `status:<CallSid>:<SequenceNumber>`,
    `dial:<CallSid>:<offer id>`, `recording:<RecordingSid>:<status>`, ... A status callback for
    an unknown CallSid is kept here with no call and no tenant, and otherwise ignored.
    """

    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    call_sid = models.CharField(max_length=64)
    kind = models.CharField(max_length=32)
    key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [
            models.Index(fields=["call_sid"]),
            # The softphone panel looks for an agent's recent after-call work by kind and time.
            models.Index(fields=["kind", "received_at"]),
        ]

    def __str__(self) -> str:
        return self.key


class Voicemail(TenantOwned):
    """A message a caller left; the audio stays at the provider (`recording_url`)."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="voicemails")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recording_sid = models.CharField(max_length=64, unique=True)
    recording_url = models.URLField(max_length=500, blank=True)
    recording_status = models.CharField(max_length=16, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    transcription = models.TextField(blank=True)
    transcription_status = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Voicemail from {self.call.from_number}" if self.call_id else self.recording_sid


class Recording(TenantOwned):
    """A recording of a call (by the number's policy); stored as the provider's URL."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="recordings")
    recording_sid = models.CharField(max_length=64, unique=True)
    recording_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(max_length=16, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    channels = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.recording_sid
