"""The public web survey page (/s/<token>/) and the staff results pages.

Thin views: links are read by `surveys.services.links`, answers written by
`surveys.services.runs`, results computed by `surveys.selectors.survey_results`.
"""

from __future__ import annotations

import csv
from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from channels_inbox.models import Conversation
from crm.models import AgentProfile, Contact, Queue, Role
from crm.tenancy import principal_for_user
from surveys import selectors
from surveys.flow import StepSpec, render_text
from surveys.models import Mode, ResponseStatus, Step, Survey, SurveyResponse, VersionStatus
from surveys.services.links import LinkExpired, LinkInvalid, survey_link_read
from surveys.services.runs import SurveyClosed, response_answer, response_back, response_start

# --- the public web survey -------------------------------------------------------------------


def _closed(request: HttpRequest, reason: str, status: int, language: str = "") -> HttpResponse:
    """The page for a link that cannot be answered: nothing is stored."""
    with translation.override(language or translation.get_language()):
        return render(request, "surveys/web_closed.html", {"reason": reason}, status=status)


def _step_context(step: Step, values: dict[str, str], answered: object = None) -> dict:
    spec = StepSpec.of(step)
    given = answered if isinstance(answered, list) else ([answered] if answered else [])
    return {
        "step": step,
        "text": render_text(step.text, values),
        "offered": spec.offered(),
        "given": [str(value) for value in given],
    }


@require_http_methods(["GET", "POST"])
def web_survey(request: HttpRequest, token: str) -> HttpResponse:
    """One step at a time, in the contact's language, no login. The response is created with
    the first answer, so opening the link stores nothing; bad input answers 400 with the
    reason and stores nothing either; an expired or used link gets a clear page."""
    try:
        link = survey_link_read(token)
    except LinkExpired:
        return _closed(request, "expired", 410)
    except LinkInvalid:
        return _closed(request, "invalid", 404)
    survey = Survey.objects.select_related("tenant").filter(pk=link.survey_id, for_web=True).first()
    if survey is None:
        return _closed(request, "invalid", 404)
    contact = Contact.objects.filter(pk=link.contact_id, tenant_id=survey.tenant_id).first()
    conversation = Conversation.objects.filter(
        pk=link.conversation_id, tenant_id=survey.tenant_id
    ).first()
    language = (contact.language if contact else "") or survey.speaking_language()
    response = (
        SurveyResponse.objects.select_related("version").filter(link_nonce=link.nonce).first()
    )
    if response is not None and not response.is_open:
        return _closed(request, "used", 410, language)
    version = (
        response.version
        if response is not None
        else survey.versions.filter(status=VersionStatus.PUBLISHED).first()
    )
    if version is None:
        return _closed(request, "unavailable", 404, language)
    steps = {step.key: step for step in version.steps.order_by("position", "pk")}
    current_key = response.current_step_key if response is not None else next(iter(steps), "")
    error = ""
    status = 200
    if request.method == "POST":
        step_key = request.POST.get("step", "")
        try:
            with transaction.atomic():
                if response is None:
                    response = response_start(
                        survey=survey,
                        mode=Mode.WEB,
                        contact=contact,
                        conversation=conversation,
                        language=language,
                        link_nonce=link.nonce,
                    )
                if "back" in request.POST:
                    response_back(response=response)
                else:
                    response = response_answer(
                        response=response,
                        step_key=step_key,
                        value=request.POST.getlist("value"),
                    )
        except ValidationError as exc:
            error = " ".join(exc.messages)
            status = 400
            response = SurveyResponse.objects.filter(link_nonce=link.nonce).first()
            current_key = step_key if step_key in steps else current_key
        except (IntegrityError, SurveyClosed):
            return _closed(request, "used", 410, language)
        else:
            if response.status == ResponseStatus.COMPLETED:
                with translation.override(language):
                    return render(request, "surveys/web_thanks.html", {"survey": survey})
            return redirect(request.path)
    values = {"tenant.name": survey.tenant.name}
    if contact is not None:
        values.update(
            {"contact.first_name": contact.first_name, "contact.last_name": contact.last_name}
        )
    step = steps.get(current_key)
    if step is None:
        return _closed(request, "unavailable", 404, language)
    answered = None
    if response is not None and status == 200:
        answered = selectors.answer_values(response).get(step.key)
    elif status == 400:
        answered = request.POST.getlist("value")
    path = list(response.path) if response is not None else [step.key]
    context = {
        "survey": survey,
        "error": error,
        "number": path.index(step.key) + 1 if step.key in path else 1,
        "can_go_back": response is not None and step.key in path and path.index(step.key) > 0,
        **_step_context(step, values, answered),
    }
    with translation.override(language):
        return render(request, "surveys/web_survey.html", context, status=status)


# --- results (staff) -------------------------------------------------------------------------


def _staff_survey(request: HttpRequest, survey_id: int) -> Survey:
    """The survey, for supervisors and managers of its tenant: another tenant's is 404, an
    agent or viewer of the tenant gets 403."""
    principal = principal_for_user(request.user)
    survey = get_object_or_404(selectors.surveys_for(principal), pk=survey_id)
    if not principal.has_role(survey.tenant_id, Role.SUPERVISOR):
        raise PermissionDenied(_("Only supervisors and managers see survey results."))
    return survey


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(request: HttpRequest, survey: Survey) -> selectors.ResultFilter:
    period = request.GET.get("period", "day")
    mode = request.GET.get("mode", "")
    return selectors.ResultFilter(
        version_id=_int(request.GET.get("version")),
        date_from=_date(request.GET.get("from")),
        date_to=_date(request.GET.get("to")),
        queue_id=_int(request.GET.get("queue")),
        agent_id=_int(request.GET.get("agent")),
        mode=mode if mode in Mode.values else "",
        period=period if period in selectors.PERIODS else "day",
    )


@require_GET
@login_required
def results(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _staff_survey(request, survey_id)
    filters = _filters(request, survey)
    data = selectors.survey_results(survey=survey, filters=filters)
    context = {
        "survey": survey,
        "results": data,
        "filters": filters,
        "versions": list(selectors.versions_of(survey)),
        "queues": list(Queue.objects.filter(tenant_id=survey.tenant_id).order_by("name")),
        "agents": list(
            AgentProfile.objects.filter(tenant_id=survey.tenant_id).select_related("user")
        ),
        "modes": Mode.choices,
        "periods": list(selectors.PERIODS),
        "query": request.GET.urlencode(),
    }
    return render(request, "surveys/results.html", context)


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


@require_GET
@login_required
def results_export(request: HttpRequest, survey_id: int) -> StreamingHttpResponse:
    """The responses as CSV, streamed row by row (fine for millions of rows)."""
    survey = _staff_survey(request, survey_id)
    filters = _filters(request, survey)
    writer = csv.writer(_Echo())
    rows = (writer.writerow(row) for row in selectors.export_rows(survey=survey, filters=filters))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}-responses.csv"'
    return response
