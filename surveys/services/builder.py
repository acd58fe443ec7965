"""The builder's writes: a version's steps, publishing, and new drafts.

A published version never changes: responses point at it and results are read per version.
Editing a published survey therefore starts a new draft (a copy of the latest version), which
replaces the published one when it is published in turn.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from crm.audit import audit_record
from crm.tenancy import Principal
from surveys.flow import StepSpec, validate_steps
from surveys.models import Step, Survey, SurveyVersion, VersionStatus

STEP_FIELDS = ("key", "kind", "text", "required", "choices", "branches", "min_value", "max_value")


def version_errors(version: SurveyVersion, specs: list[StepSpec] | None = None) -> list[str]:
    """Why `version` (or the given steps for it) cannot be published; empty when it can."""
    if specs is None:
        specs = [StepSpec.of(step) for step in version.steps.order_by("position", "pk")]
    return validate_steps(specs, ivr=version.survey.for_ivr)


def _require_draft(version: SurveyVersion) -> None:
    if version.status != VersionStatus.DRAFT:
        raise ValidationError(
            "A published version cannot change: create a new draft of the survey instead."
        )


@transaction.atomic
def survey_version_set_steps(
    *, version: SurveyVersion, steps: list[dict[str, Any]], actor: Principal | None = None
) -> SurveyVersion:
    """Replace a draft's steps with `steps` (dicts of Step fields, in order). The steps are
    validated first (ValidationError lists every problem); nothing is written when invalid."""
    version = SurveyVersion.objects.select_for_update().select_related("survey").get(pk=version.pk)
    _require_draft(version)
    specs = [
        StepSpec(**{name: step[name] for name in STEP_FIELDS if name in step}) for step in steps
    ]
    errors = version_errors(version, specs)
    if errors:
        raise ValidationError(errors)
    version.steps.all().delete()
    Step.objects.bulk_create(
        Step(version=version, position=index, **{k: v for k, v in step.items() if k in STEP_FIELDS})
        for index, step in enumerate(steps, start=1)
    )
    if actor is not None:
        audit_record(
            actor=actor,
            action="update",
            obj=version,
            changes={"steps": [step["key"] for step in steps]},
            tenant_id=version.tenant_id,
        )
    return version


@transaction.atomic
def survey_version_publish(
    *, version: SurveyVersion, actor: Principal | None = None
) -> SurveyVersion:
    """Publish a draft: its steps are validated (ValidationError with every reason), the
    previously published version is retired, and this one is frozen. Responses already given
    keep their version; new runs use this one."""
    version = SurveyVersion.objects.select_for_update().select_related("survey").get(pk=version.pk)
    _require_draft(version)
    errors = version_errors(version)
    if errors:
        raise ValidationError(errors)
    SurveyVersion.objects.filter(survey=version.survey, status=VersionStatus.PUBLISHED).update(
        status=VersionStatus.RETIRED
    )
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at"])
    if actor is not None:
        audit_record(
            actor=actor,
            action="update",
            obj=version,
            changes={"status": "published"},
            tenant_id=version.tenant_id,
        )
    return version


@transaction.atomic
def survey_version_new_draft(*, survey: Survey, actor: Principal | None = None) -> SurveyVersion:
    """The survey's draft to edit: the existing one, or a new copy of its latest version (or an
    empty draft for a survey without versions). The survey row is locked, so two managers
    pressing "new draft" together get the same draft."""
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    draft = survey.versions.filter(status=VersionStatus.DRAFT).first()
    if draft is not None:
        return draft
    latest = survey.versions.order_by("-number").first()
    number = (survey.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    draft = SurveyVersion.objects.create(tenant_id=survey.tenant_id, survey=survey, number=number)
    if latest is not None:
        Step.objects.bulk_create(
            Step(
                version=draft,
                position=step.position,
                **{name: getattr(step, name) for name in STEP_FIELDS},
            )
            for step in latest.steps.all()
        )
    if actor is not None:
        audit_record(
            actor=actor,
            action="create",
            obj=draft,
            changes={"copied_from": latest.number if latest else None},
            tenant_id=survey.tenant_id,
        )
    return draft


def published_version(survey: Survey) -> SurveyVersion | None:
    return survey.versions.filter(status=VersionStatus.PUBLISHED).first()
