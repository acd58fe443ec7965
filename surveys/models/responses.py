"""Runs of a survey (responses), their answers, and where surveys are switched on."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels_inbox.models import Channel, Conversation
from crm.models import AgentProfile, Contact, Queue, TenantOwned, Ticket
from surveys.models.surveys import Step, Survey, SurveyVersion
from telephony.models import Call


class Mode(models.TextChoices):
    AGENT = "agent", _("Agent script")
    IVR = "ivr", _("IVR")
    WEB = "web", _("Web link")


class ResponseStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    ENDED = "ended", _("Ended early (partial)")


class DispositionState(models.TextChoices):
    NONE = "", _("(none)")
    PENDING = "pending", _("Waiting for the call to end")
    APPLIED = "applied", _("Applied to the call")


class SurveyResponse(TenantOwned):
    """One run of one survey version, by an agent, the IVR or a web link.

    `path` is the list of step keys shown so far, in order (the branch actually followed), so
    back/next and a reload land on the same step. `link_nonce` is the web link's one-time id:
    unique, so a link gives at most one response. Written by `surveys.services.runs`.
    """

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    version = models.ForeignKey(SurveyVersion, on_delete=models.PROTECT, related_name="responses")
    mode = models.CharField(max_length=8, choices=Mode.choices)
    status = models.CharField(
        max_length=16, choices=ResponseStatus.choices, default=ResponseStatus.IN_PROGRESS
    )
    language = models.CharField(max_length=8, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    call = models.ForeignKey(
        Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        AgentProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Campaigns (a higher app) will point here through this reference, never a foreign key.
    campaign_ref = models.CharField(max_length=64, blank=True)
    link_nonce = models.CharField(max_length=40, null=True, blank=True, unique=True)
    path = models.JSONField(default=list, blank=True)
    current_step_key = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=50, blank=True)
    disposition_state = models.CharField(
        max_length=8, choices=DispositionState.choices, blank=True, default=""
    )
    # The answers to the version's first NPS and first rating question, copied here so the
    # results' breakdowns by queue, agent and period read one table (surveys.results).
    nps_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    csat_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(default=timezone.now)
    # The start's day in the tenant's time zone: the results group by it (a plain column the
    # planner can count, instead of a time-zone conversion per row).
    started_on = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["survey", "version", "started_at"]),
            models.Index(fields=["tenant", "-started_at"]),
            models.Index(fields=["agent", "status"]),
        ]
        verbose_name = _("survey response")

    def __str__(self) -> str:
        return f"{self.survey} #{self.pk} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status == ResponseStatus.IN_PROGRESS


class Answer(TenantOwned):
    """One answer value. A multiple-choice answer is one row per chosen value, so results can
    count choices with one GROUP BY; ratings and NPS scores are in both `choice` (the
    distribution) and `number` (averages, NPS, CSAT).

    `survey`, `version`, `queue`, `agent` and `started_at` are copied from the response (which
    never changes them after it starts), so the results page aggregates a million answers in
    one scan of this table, with no join to the responses.
    """

    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(SurveyVersion, on_delete=models.PROTECT, related_name="+")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="answers")
    choice = models.CharField(max_length=100, blank=True)
    number = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    text = models.TextField(blank=True)
    date = models.DateField(null=True, blank=True)
    answered_at = models.DateTimeField(default=timezone.now)
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    agent = models.ForeignKey(
        AgentProfile,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    started_at = models.DateTimeField(help_text=_("When the response started"))

    class Meta:
        ordering = ["response", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "step", "choice"], name="survey_answer_unique_value"
            )
        ]
        indexes = [models.Index(fields=["survey", "version", "step", "choice"])]
        verbose_name = _("answer")


class QueueSurvey(TenantOwned):
    """Callers of `queue` are asked `survey` by the IVR once the agent hangs up."""

    queue = models.OneToOneField(Queue, on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="queue_settings")
    is_active = models.BooleanField(default=True)
    ask_first = models.BooleanField(
        default=False,
        help_text=_(
            "Ask the caller whether they will take the survey (press 1) before the first "
            "question; otherwise every caller still on the line is asked."
        ),
    )

    class Meta:
        verbose_name = _("post-call IVR survey of a queue")

    def __str__(self) -> str:
        return f"{self.queue} → {self.survey}"


class ChannelSurvey(TenantOwned):
    """When a conversation on `channel` is resolved, the contact gets a link to `survey`.

    `message` is the text sent, with `{link}` where the link goes (blank: a default text in
    the contact's language)."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="+")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="channel_settings")
    is_active = models.BooleanField(default=True)
    message = models.TextField(blank=True, help_text=_("Use {link} for the survey link."))

    class Meta:
        verbose_name = _("web survey of a channel")

    def __str__(self) -> str:
        return f"{self.channel} → {self.survey}"


class SurveyInvitation(TenantOwned):
    """A web link sent to a contact: at most one per survey and conversation, so a
    conversation resolved twice (or an event delivered twice) sends one link."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nonce = models.CharField(max_length=40, unique=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "conversation"], name="survey_invitation_once_per_conversation"
            )
        ]
        verbose_name = _("survey invitation")
