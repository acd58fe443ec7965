"""Reads of the surveys app: visible surveys, an agent's open scripts, answers and the export.

The results page's figures are computed in `surveys.results` (re-exported here).
"""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import AgentProfile
from crm.tenancy import Principal, scope
from surveys.flow import format_number
from surveys.models import Answer, ResponseStatus, StepKind, Survey, SurveyResponse, SurveyVersion
from surveys.results import (  # noqa: F401 (re-exported for views and tests)
    PERIODS,
    ResultFilter,
    Results,
    response_q,
    steps_shown,
    survey_results,
)


def surveys_for(principal: Principal) -> QuerySet[Survey]:
    return scope(Survey.objects.select_related("tenant"), principal)


def responses_for(principal: Principal) -> QuerySet[SurveyResponse]:
    return scope(
        SurveyResponse.objects.select_related("survey", "version", "agent__user", "queue"),
        principal,
    )


def open_script_for(*, agent: AgentProfile, call_id: int | None = None) -> SurveyResponse | None:
    """The agent's script still running (for `call_id` when given), newest first."""
    queryset = SurveyResponse.objects.filter(
        agent=agent, mode="agent", status=ResponseStatus.IN_PROGRESS
    )
    if call_id is not None:
        queryset = queryset.filter(call_id=call_id)
    return queryset.select_related("survey", "version").order_by("-started_at", "-pk").first()


# --- results (computed in surveys.results) ---------------------------------------------------


def versions_of(survey: Survey) -> QuerySet[SurveyVersion]:
    return survey.versions.order_by("-number")


def export_rows(*, survey: Survey, filters: ResultFilter):
    """The CSV export's header and rows, read lazily (server-side cursor on PostgreSQL):
    one row per response, one column per step key (multiple choices joined by "|")."""
    keys = [step.key for step in steps_shown(survey, filters) if step.kind != StepKind.SAY]
    header = [
        "response_id",
        "version",
        "mode",
        "status",
        "started_at",
        "completed_at",
        "contact_id",
        "queue",
        "agent",
        "outcome",
        *keys,
    ]
    yield header
    responses = (
        SurveyResponse.objects.filter(response_q(survey, filters))
        .select_related("version", "queue", "agent__user")
        .prefetch_related("answers__step")
        .order_by("started_at", "pk")
    )
    for response in responses.iterator(chunk_size=500):
        values: dict[str, list[str]] = {}
        for answer in response.answers.all():
            values.setdefault(answer.step.key, []).append(_answer_text(answer))
        yield [
            response.pk,
            response.version.number,
            response.mode,
            response.status,
            response.started_at.isoformat(),
            response.completed_at.isoformat() if response.completed_at else "",
            response.contact_id or "",
            response.queue.name if response.queue else "",
            response.agent.user.get_username() if response.agent else "",
            response.outcome,
            *("|".join(values.get(key, [])) for key in keys),
        ]


def _answer_text(answer: Answer) -> str:
    if answer.choice:
        return answer.choice
    if answer.number is not None:
        return format_number(answer.number)
    if answer.date is not None:
        return answer.date.isoformat()
    return answer.text


def answer_values(response: SurveyResponse) -> dict[str, object]:
    """The response's answers by step key: a list for multiple choice, else one value."""
    values: dict[str, object] = {}
    for answer in response.answers.all():
        text = _answer_text(answer)
        if answer.step.kind == StepKind.MULTIPLE:
            values.setdefault(answer.step.key, []).append(text)
        else:
            values[answer.step.key] = text
    return values
