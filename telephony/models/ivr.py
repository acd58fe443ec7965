"""IVR menus: a small tree of greetings and options by key (or spoken keyword)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.models import BusinessHours, Queue, TenantOwned


class IvrAction(models.TextChoices):
    SUBMENU = "submenu", _("Go to another menu")
    QUEUE = "queue", _("Wait in a queue")
    VOICEMAIL = "voicemail", _("Leave a voicemail")
    EXTERNAL = "external", _("Forward to an external number")
    HANGUP = "hangup", _("Say goodbye and hang up")


class IvrMenu(TenantOwned):
    """A greeting and its options. Language and voice fall back to the tenant's language.

    `timeout_seconds` is how long the caller has to press a key; after `max_retries` repeats
    (on silence or an invalid key) the caller hears a polite goodbye. When `business_hours` is
    set and closed, the after-hours branch runs instead of the greeting.
    """

    name = models.CharField(max_length=100)
    greeting_text = models.TextField(blank=True, help_text=_("Spoken when no audio URL is set"))
    greeting_audio_url = models.URLField(blank=True)
    language = models.CharField(
        max_length=8, blank=True, help_text=_("da, pl or en; empty: the tenant's language")
    )
    voice = models.CharField(
        max_length=40, blank=True, help_text=_("Twilio voice, e.g. Polly.Naja; empty: default")
    )
    timeout_seconds = models.PositiveSmallIntegerField(default=5)
    max_retries = models.PositiveSmallIntegerField(default=2)
    invalid_message = models.CharField(
        max_length=300, blank=True, help_text=_("Empty: a default in the menu's language")
    )
    timeout_message = models.CharField(max_length=300, blank=True)
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    after_hours_action = models.CharField(
        max_length=16,
        choices=[
            (IvrAction.HANGUP, _("Say the closed message and hang up")),
            (IvrAction.VOICEMAIL, IvrAction.VOICEMAIL.label),
            (IvrAction.SUBMENU, IvrAction.SUBMENU.label),
        ],
        default=IvrAction.HANGUP,
    )
    after_hours_message = models.CharField(
        max_length=300, blank=True, help_text=_("Empty: a default in the menu's language")
    )
    after_hours_menu = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "IVR menu"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.after_hours_action == IvrAction.SUBMENU and self.after_hours_menu_id is None:
            raise ValidationError({"after_hours_menu": _("Choose the after-hours menu.")})


class IvrOption(models.Model):
    """One choice in a menu: a key (and optionally a spoken keyword) and where it leads."""

    menu = models.ForeignKey(IvrMenu, on_delete=models.CASCADE, related_name="options")
    digit = models.CharField(
        max_length=1, validators=[RegexValidator(r"^[0-9*#]$", _("One key: 0-9, * or #"))]
    )
    speech_keyword = models.CharField(
        max_length=60, blank=True, help_text=_("Optional word the caller may say instead")
    )
    action = models.CharField(max_length=16, choices=IvrAction.choices)
    target_menu = models.ForeignKey(
        IvrMenu, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_number = models.CharField(max_length=20, blank=True, help_text=_("E.164"))

    class Meta:
        verbose_name = "IVR option"
        ordering = ["menu", "digit"]
        constraints = [
            models.UniqueConstraint(fields=["menu", "digit"], name="ivroption_unique_digit")
        ]

    def __str__(self) -> str:
        return f"{self.digit}: {self.get_action_display()}"

    def clean(self) -> None:
        super().clean()
        needed = {
            IvrAction.SUBMENU: ("target_menu", self.target_menu_id),
            IvrAction.QUEUE: ("target_queue", self.target_queue_id),
            IvrAction.EXTERNAL: ("target_number", self.target_number),
        }.get(self.action)
        if needed is not None and not needed[1]:
            raise ValidationError({needed[0]: _("Needed for this action.")})
