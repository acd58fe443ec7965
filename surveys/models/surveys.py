"""Surveys and call scripts as managers build them: a survey, its versions and their steps."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import TenantOwned


class StepKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    YES_NO = "yes_no", _("Yes / no")
    RATING = "rating", _("Rating 1-5")
    NPS = "nps", _("Recommendation 0-10 (NPS)")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    TEXT = "text", _("Free text")
    SAY = "say", _("Say (script text, no answer)")


class Survey(TenantOwned):
    """A questionnaire or call script. Which ways it may run (agent script, IVR after a call,
    web link) are flags, so one CSAT survey can serve the phone and the web alike.

    `language` is what the IVR speaks and the web page shows when the contact has no language
    of their own; blank means the tenant's language.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    for_agent = models.BooleanField(_("agent script"), default=False)
    for_ivr = models.BooleanField(_("IVR after a call"), default=False)
    for_web = models.BooleanField(_("web link"), default=False)
    language = models.CharField(
        max_length=8, blank=True, help_text=_("Blank: the tenant's language")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("survey")

    def __str__(self) -> str:
        return self.name

    def speaking_language(self) -> str:
        return self.language or self.tenant.language or "en"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class SurveyVersion(TenantOwned):
    """One edition of a survey's steps. Only a draft may change; publishing freezes it (and
    retires the version published before), and every response keeps the version it answered.
    Written through `surveys.services.builder`."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["survey", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "number"], name="survey_version_number"),
            models.UniqueConstraint(
                fields=["survey"],
                condition=Q(status="published"),
                name="survey_one_published_version",
            ),
        ]
        verbose_name = _("survey version")

    def __str__(self) -> str:
        return f"{self.survey} v{self.number} ({self.get_status_display()})"

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT


class Step(models.Model):
    """One question or script line of a version, in `position` order.

    `key` names the step in branches ("if the answer is X, go to <key>") and in exports; it is
    stable across versions. `choices` is a list of {"value", "label"} for choice steps;
    `branches` a list of {"when": value | "*" | "<=N" | ">=N", "goto": key} or
    {"when": ..., "end": outcome}, tried in order; without a match the next step follows.
    """

    version = models.ForeignKey(SurveyVersion, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.SlugField(max_length=40)
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    text = models.TextField(
        help_text=_(
            "The question or what the agent says. Placeholders: {contact.first_name}, "
            "{tenant.name}, {agent.first_name}."
        )
    )
    required = models.BooleanField(default=True)
    choices = models.JSONField(default=list, blank=True)
    branches = models.JSONField(default=list, blank=True)
    min_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["version", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="survey_step_key"),
        ]
        verbose_name = _("step")

    def __str__(self) -> str:
        return f"{self.key}: {self.text[:60]}"
