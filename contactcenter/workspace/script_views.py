"""The call script panel of the agent workspace (/agent/script/...), an htmx fragment.

The panel finds what the agent is working on (a call they answered and have not wrapped up, or
the call, conversation or contact named in the request), offers the tenant's published agent
scripts, and runs one step at a time. Every answer is saved as it is given by
`surveys.services.runs`, so a reload shows the same step with the answers kept; the branch
followed is the survey's; the ending outcome becomes the call's disposition through
telephony's wrap-up (at once if the agent's leg has ended, else when it does).
Every answer is the whole panel (`#script-panel`, swapped outerHTML).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels_inbox.models import Conversation
from contactcenter.workspace import selectors as workspace_selectors
from crm.models import AgentProfile, Contact
from crm.tenancy import principal_for_user
from surveys import selectors
from surveys.flow import StepSpec, render_text
from surveys.models import DispositionState, ResponseStatus, Survey, SurveyResponse, VersionStatus
from surveys.services.runs import (
    SurveyClosed,
    response_answer,
    response_apply_disposition,
    response_back,
    response_end,
    response_start,
)
from telephony.models import Call

TEMPLATE = "surveys/agent_panel.html"
# A call counts as the agent's current one until wrapped up, for this long after it started.
CURRENT_CALL_HOURS = 12


def _agent(request: HttpRequest) -> AgentProfile:
    value = request.GET.get("tenant") or request.POST.get("tenant") or ""
    agent = workspace_selectors.agent_profile_for(
        principal=principal_for_user(request.user),
        tenant_id=int(value) if value.isdigit() else None,
    )
    if agent is None:
        raise PermissionDenied(_("Only agents have a workspace."))
    return agent


def _id(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name) or request.POST.get(name) or ""
    return int(value) if value.isdigit() else None


def _current_call(request: HttpRequest, agent: AgentProfile) -> Call | None:
    """The call named in the request (the agent's own), else the latest call they answered
    and have not wrapped up yet."""
    calls = Call.objects.filter(tenant_id=agent.tenant_id, agent=agent).select_related("contact")
    call_id = _id(request, "call")
    if call_id is not None:
        call = calls.filter(pk=call_id).first()
        if call is None:
            raise Http404
        return call
    since = timezone.now() - timedelta(hours=CURRENT_CALL_HOURS)
    return (
        calls.filter(answered_at__isnull=False, wrapped_up_at__isnull=True, started_at__gte=since)
        .order_by("-answered_at", "-pk")
        .first()
    )


def _response(agent: AgentProfile, response_id: int) -> SurveyResponse:
    response = (
        SurveyResponse.objects.select_related("survey", "version", "contact", "tenant")
        .filter(pk=response_id, agent=agent, mode="agent")
        .first()
    )
    if response is None:
        raise Http404
    return response


def _placeholders(response: SurveyResponse, agent: AgentProfile) -> dict[str, str]:
    values = {
        "tenant.name": agent.tenant.name,
        "agent.first_name": agent.user.first_name,
        "agent.last_name": agent.user.last_name,
    }
    if response.contact is not None:
        values["contact.first_name"] = response.contact.first_name
        values["contact.last_name"] = response.contact.last_name
    return values


def _panel(
    request: HttpRequest,
    agent: AgentProfile,
    response: SurveyResponse | None = None,
    *,
    error: str = "",
    given: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict = {"agent": agent, "response": response, "error": error}
    if response is None:
        call = _current_call(request, agent)
        context["call"] = call
        context["conversation_id"] = _id(request, "conversation")
        context["contact_id"] = _id(request, "contact") or (call.contact_id if call else None)
        open_script = selectors.open_script_for(agent=agent, call_id=call.pk if call else None)
        if open_script is not None:
            return _panel(request, agent, _response(agent, open_script.pk))
        context["scripts"] = list(
            Survey.objects.filter(
                tenant_id=agent.tenant_id,
                for_agent=True,
                versions__status=VersionStatus.PUBLISHED,
            ).order_by("name")
        )
    elif response.status == ResponseStatus.IN_PROGRESS:
        step = response.version.steps.get(key=response.current_step_key)
        answered = selectors.answer_values(response).get(step.key)
        if given is None:
            given = answered if isinstance(answered, list) else ([answered] if answered else [])
        path = list(response.path)
        context.update(
            {
                "step": step,
                "text": render_text(step.text, _placeholders(response, agent)),
                "offered": StepSpec.of(step).offered(),
                "given": [str(value) for value in given],
                "number": path.index(step.key) + 1,
                "can_go_back": path.index(step.key) > 0,
            }
        )
    else:
        context["pending"] = response.disposition_state == DispositionState.PENDING
        context["applied"] = response.disposition_state == DispositionState.APPLIED
    return render(request, TEMPLATE, context, status=status)


@require_GET
@login_required
def script_panel(request: HttpRequest) -> HttpResponse:
    """The panel: the running script's current step, or the scripts the agent may start."""
    agent = _agent(request)
    response_id = _id(request, "response")
    if response_id is not None:
        return _panel(request, agent, _response(agent, response_id))
    return _panel(request, agent)


@require_POST
@login_required
def script_start(request: HttpRequest) -> HttpResponse:
    """Start a script for the agent's current call (or the conversation / contact given)."""
    agent = _agent(request)
    survey = Survey.objects.filter(
        pk=_id(request, "survey") or 0, tenant_id=agent.tenant_id, for_agent=True
    ).first()
    if survey is None:
        return _panel(request, agent, error=_("Choose a script."), status=400)
    call = _current_call(request, agent)
    conversation_id = _id(request, "conversation")
    conversation = (
        Conversation.objects.filter(pk=conversation_id, tenant_id=agent.tenant_id).first()
        if conversation_id
        else None
    )
    contact_id = _id(request, "contact")
    contact = (
        Contact.objects.filter(pk=contact_id, tenant_id=agent.tenant_id).first()
        if contact_id
        else None
    )
    if (conversation_id and conversation is None) or (contact_id and contact is None):
        raise Http404
    try:
        response = response_start(
            survey=survey,
            mode="agent",
            agent=agent,
            call=call,
            conversation=conversation,
            contact=contact,
        )
    except ValidationError as exc:
        return _panel(request, agent, error=" ".join(exc.messages), status=400)
    return _panel(request, agent, _response(agent, response.pk))


@require_POST
@login_required
def script_answer(request: HttpRequest, response_id: int) -> HttpResponse:
    """Save the answer to the shown step and show the step its branch leads to. Bad input
    answers 400 with the reason and the panel as it was (nothing valid is lost)."""
    agent = _agent(request)
    response = _response(agent, response_id)
    values = request.POST.getlist("value")
    try:
        with transaction.atomic():
            response = response_answer(
                response=response,
                step_key=request.POST.get("step", ""),
                value=values,
                actor=principal_for_user(request.user),
            )
    except ValidationError as exc:
        return _panel(
            request,
            agent,
            _response(agent, response_id),
            error=" ".join(exc.messages),
            given=values,
            status=400,
        )
    except SurveyClosed:
        pass
    return _panel(request, agent, _response(agent, response_id))


@require_POST
@login_required
def script_back(request: HttpRequest, response_id: int) -> HttpResponse:
    agent = _agent(request)
    with contextlib.suppress(SurveyClosed):
        response_back(response=_response(agent, response_id))
    return _panel(request, agent, _response(agent, response_id))


@require_POST
@login_required
def script_end(request: HttpRequest, response_id: int) -> HttpResponse:
    """Stop the script early (the customer ended the conversation): answers so far are kept."""
    agent = _agent(request)
    response_end(response=_response(agent, response_id))
    return _panel(request, agent, _response(agent, response_id))


@require_POST
@login_required
def script_disposition(request: HttpRequest, response_id: int) -> HttpResponse:
    """Apply a finished script's outcome as the call's disposition now (the agent's leg ended
    after the script finished and the automatic attempt has not happened yet)."""
    agent = _agent(request)
    response = _response(agent, response_id)
    with transaction.atomic():
        response_apply_disposition(response=response, actor=principal_for_user(request.user))
    return _panel(request, agent, _response(agent, response_id))
