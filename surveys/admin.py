"""The survey builder (managers) and read-only response screens, in the Django admin.

A survey is created with an empty draft (v1). Steps are edited on a draft version's page: one
row per step, choices and branches as short text lines. The whole set of steps is checked
when the page is saved (the same `surveys.flow.validate_steps` the services use), so a cycle or
a jump to a missing step is refused with a clear message. Published versions are read-only;
"Create a new draft" copies the latest version for editing; "Publish" freezes a draft.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from crm.admin_base import (
    ReadOnlyAdmin,
    StackedInline,
    TabularInline,
    TenantConsistentForm,
    TenantScopedAdmin,
)
from crm.tenancy import principal_for_user
from surveys.flow import (
    StepSpec,
    format_branches,
    format_choices,
    parse_branches,
    parse_choices,
    validate_steps,
)
from surveys.models import (
    Answer,
    ChannelSurvey,
    QueueSurvey,
    Step,
    Survey,
    SurveyResponse,
    SurveyVersion,
    VersionStatus,
)
from surveys.services.builder import survey_version_new_draft, survey_version_publish


class StepForm(TenantConsistentForm):
    choices_text = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 30}),
        help_text=_("Choice steps: one per line, “value | label” (or just the label)."),
    )
    branches_text = forms.CharField(
        label=_("Branches"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 30}),
        help_text=_(
            "One per line: “yes -> q3” goes to step q3, “no -> end:not_interested” ends with "
            "that outcome; “*” is any answer, “<=6” / “>=9” compare numbers."
        ),
    )

    class Meta:
        model = Step
        fields = ("position", "key", "kind", "text", "required", "min_value", "max_value")
        widgets = {"text": forms.Textarea(attrs={"rows": 3, "cols": 40})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["choices_text"].initial = format_choices(self.instance.choices)
            self.fields["branches_text"].initial = format_branches(self.instance.branches)

    def clean(self):
        cleaned = super().clean()
        cleaned["choices"] = parse_choices(cleaned.get("choices_text", ""))
        try:
            cleaned["branches"] = parse_branches(cleaned.get("branches_text", ""))
        except ValidationError as exc:
            self.add_error("branches_text", exc)
        return cleaned

    def save(self, commit: bool = True):
        self.instance.choices = self.cleaned_data.get("choices", [])
        self.instance.branches = self.cleaned_data.get("branches", [])
        return super().save(commit=commit)


class StepFormSet(BaseInlineFormSet):
    """Checks the version's steps together: keys, branch targets, cycles, IVR-able kinds."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        rows.sort(key=lambda data: data.get("position") or 0)
        specs = [
            StepSpec(
                key=data.get("key", ""),
                kind=data.get("kind", ""),
                text=data.get("text", ""),
                required=bool(data.get("required")),
                choices=data.get("choices", []),
                branches=data.get("branches", []),
                min_value=data.get("min_value"),
                max_value=data.get("max_value"),
            )
            for data in rows
        ]
        errors = validate_steps(specs, ivr=self.instance.survey.for_ivr)
        if errors:
            raise ValidationError(errors)


class StepInline(StackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet
    extra = 0
    exclude = ("choices", "branches")

    def _draft(self, obj) -> bool:
        return obj is None or getattr(obj, "status", VersionStatus.DRAFT) == VersionStatus.DRAFT

    def has_add_permission(self, request, obj=None) -> bool:
        return self._draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._draft(obj) and super().has_delete_permission(request, obj)


class VersionInline(TabularInline):
    model = SurveyVersion
    fields = ("link", "status", "published_at")
    readonly_fields = ("link", "status", "published_at")
    read_only = True
    extra = 0

    @admin.display(description=_("Version"))
    def link(self, obj: SurveyVersion) -> str:
        url = reverse("admin:surveys_surveyversion_change", args=[obj.pk])
        return format_html('<a href="{}">v{}</a>', url, obj.number)


@admin.register(Survey)
class SurveyAdmin(TenantScopedAdmin):
    list_display = ("name", "tenant", "for_agent", "for_ivr", "for_web", "language", "results")
    list_filter = ("tenant", "for_agent", "for_ivr", "for_web")
    search_fields = ("name",)
    inlines = [VersionInline]
    actions = ["new_draft"]

    @admin.display(description=_("Results"))
    def results(self, obj: Survey) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("surveys:results", args=[obj.pk]), _("Results")
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            survey_version_new_draft(survey=obj, actor=principal_for_user(request.user))

    @admin.action(description=_("Create a new draft to edit"))
    def new_draft(self, request, queryset):
        for survey in self.writable(request, queryset):
            draft = survey_version_new_draft(survey=survey, actor=principal_for_user(request.user))
            self.message_user(
                request,
                _("%(survey)s: draft v%(number)s ready to edit.")
                % {
                    "survey": survey,
                    "number": draft.number,
                },
            )


@admin.register(SurveyVersion)
class SurveyVersionAdmin(TenantScopedAdmin):
    list_display = ("survey", "number", "status", "published_at", "tenant")
    list_filter = ("tenant", "status")
    readonly_fields = ("tenant", "survey", "number", "status", "published_at", "problems")
    fields = ("tenant", "survey", "number", "status", "published_at", "problems")
    inlines = [StepInline]
    actions = ["publish"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("survey")

    def has_add_permission(self, request) -> bool:
        return False  # drafts come from the survey's "Create a new draft" action

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != VersionStatus.DRAFT:
            return False  # published versions are frozen: responses point at them
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != VersionStatus.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("Problems before publishing"))
    def problems(self, obj: SurveyVersion) -> str:
        if obj is None or obj.pk is None or obj.status != VersionStatus.DRAFT:
            return "—"
        from surveys.services.builder import version_errors

        errors = version_errors(obj)
        return "; ".join(errors) if errors else str(_("None: ready to publish."))

    @admin.action(description=_("Publish the selected drafts"))
    def publish(self, request, queryset):
        for version in self.writable(request, queryset).select_related("survey"):
            try:
                survey_version_publish(version=version, actor=principal_for_user(request.user))
            except ValidationError as exc:
                self.message_user(
                    request, f"{version}: {' '.join(exc.messages)}", level=messages.ERROR
                )
            else:
                self.message_user(request, _("%(version)s published.") % {"version": version})


@admin.register(QueueSurvey)
class QueueSurveyAdmin(TenantScopedAdmin):
    list_display = ("queue", "survey", "is_active", "tenant")
    list_filter = ("tenant", "is_active")


@admin.register(ChannelSurvey)
class ChannelSurveyAdmin(TenantScopedAdmin):
    list_display = ("channel", "survey", "is_active", "tenant")
    list_filter = ("tenant", "is_active")


class AnswerInline(TabularInline):
    model = Answer
    fields = ("step", "choice", "number", "text", "date", "answered_at")
    readonly_fields = fields
    read_only = True
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("step")


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    list_display = ("pk", "survey", "version", "mode", "status", "outcome", "started_at", "tenant")
    list_filter = ("tenant", "mode", "status")
    list_select_related = ("survey", "version__survey", "tenant")
    inlines = [AnswerInline]
    raw_id_fields = ("contact", "call", "conversation", "ticket", "agent", "queue")
