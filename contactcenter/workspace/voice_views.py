"""The softphone panel's server side (/agent/softphone/...): the live call fragment and the
in-call buttons (hold, resume, mute, transfer, wrap-up), for simulator and real mode alike.

Thin views: the state comes from `telephony.selectors.softphone_state_for`, every change from
`telephony.services.incall`. Answering, rejecting and hanging up happen in the browser (the
Twilio Voice SDK's call, or the simulator softphone's leg), not here. A button that does not fit
the call any more answers the fresh fragment with 409 and the reason; bad input answers 400
with the reason (static/js/softphone.js swaps both in).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contactcenter.workspace import selectors
from crm.models import AgentProfile, ChannelKind, Queue
from crm.tenancy import principal_for_user
from telephony.models import Call, CallEvent, DispositionCode
from telephony.selectors import softphone_state_for
from telephony.services import incall, warm_transfer
from telephony.services.conference import conference_bridge_enabled

ACTIONS = (
    "hold",
    "resume",
    "mute",
    "unmute",
    "transfer",
    "transfer-complete",
    "transfer-cancel",
    "wrapup",
)


def _agent(request: HttpRequest) -> AgentProfile:
    value = request.GET.get("tenant") or request.POST.get("tenant") or ""
    agent = selectors.agent_profile_for(
        principal=principal_for_user(request.user),
        tenant_id=int(value) if value.isdigit() else None,
    )
    if agent is None:
        raise PermissionDenied(_("Only agents have a softphone."))
    return agent


def _context(agent: AgentProfile, *, error: str = "") -> dict:
    state = softphone_state_for(agent=agent)
    context: dict = {"agent": agent, "sp": state, "error": error}
    if state.state == "connected":
        context["transfer_agents"] = list(
            AgentProfile.objects.filter(tenant_id=agent.tenant_id)
            .exclude(pk=agent.pk)
            .select_related("user")
            .order_by("user__first_name", "user__username")
        )
        context["transfer_queues"] = [
            queue
            for queue in Queue.objects.filter(tenant_id=agent.tenant_id).order_by("name")
            if not queue.channel_kinds or ChannelKind.VOICE in queue.channel_kinds
        ]
        # Warm transfer needs the conference bridge (telephony.services.warm_transfer).
        context["warm_transfer"] = conference_bridge_enabled()
        context["consulting"] = (
            state.call is not None
            and context["warm_transfer"]
            and CallEvent.objects.filter(
                call_id=state.call.pk, kind="consult", payload__state="open"
            ).exists()
        )
    if state.state == "wrapup":
        # After-call work ends by itself after this long (telephony.services.incall).
        context["wrapup_seconds"] = settings.TELEPHONY_WRAPUP_SECONDS
        context["dispositions"] = list(
            DispositionCode.objects.filter(tenant_id=agent.tenant_id, is_active=True).order_by(
                "label"
            )
        )
    return context


def _fragment(request: HttpRequest, agent: AgentProfile, *, error: str = "", status: int = 200):
    return render(
        request, "agent/_softphone_call.html", _context(agent, error=error), status=status
    )


@require_GET
@login_required
def softphone_call(request: HttpRequest) -> HttpResponse:
    """The live part of the softphone: idle, ringing (with the caller's record), connected
    (hold, mute, transfer, keypad) or wrap-up (disposition form)."""
    return _fragment(request, _agent(request))


def _error_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(
            str(message) for messages in exc.message_dict.values() for message in messages
        )
    return " ".join(str(message) for message in exc.messages)


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def _transfer(request: HttpRequest, call: Call, agent: AgentProfile) -> None:
    target = request.POST.get("target", "")
    principal = principal_for_user(request.user)
    if target == "agent":
        to_agent = AgentProfile.objects.filter(
            pk=_int_or_none(request.POST.get("to_agent")), tenant_id=agent.tenant_id
        ).first()
        if to_agent is None:
            raise ValidationError({"to_agent": [_("Choose an agent.")]})
        if request.POST.get("warm"):
            warm_transfer.call_transfer_warm_start(call=call, to_agent=to_agent, actor=principal)
        else:
            incall.call_transfer(call=call, to_agent=to_agent, actor=principal)
    elif target == "queue":
        to_queue = Queue.objects.filter(
            pk=_int_or_none(request.POST.get("to_queue")), tenant_id=agent.tenant_id
        ).first()
        if to_queue is None:
            raise ValidationError({"to_queue": [_("Choose a queue.")]})
        incall.call_transfer(call=call, to_queue=to_queue, actor=principal)
    elif target == "number":
        incall.call_transfer(
            call=call, to_number=request.POST.get("to_number", "").strip(), actor=principal
        )
    else:
        raise ValidationError({"target": [_("Choose whom to transfer to.")]})


@require_POST
@login_required
def softphone_action(request: HttpRequest, call_id: int, action: str) -> HttpResponse:
    """One in-call button of the agent's own call; answers the fresh fragment.

    Another tenant's call, or a call this agent has nothing to do with, is 404."""
    agent = _agent(request)
    if action not in ACTIONS:
        raise Http404
    call = Call.objects.filter(pk=call_id, tenant_id=agent.tenant_id).first()
    state = softphone_state_for(agent=agent)
    if call is None or state.call is None or state.call.pk != call.pk:
        raise Http404
    principal = principal_for_user(request.user)
    try:
        if action == "hold":
            incall.call_hold(call=call, actor=principal)
        elif action == "resume":
            incall.call_resume(call=call, actor=principal)
        elif action in ("mute", "unmute"):
            incall.call_mute(call=call, muted=action == "mute", actor=principal)
        elif action == "transfer":
            _transfer(request, call, agent)
        elif action == "transfer-complete":
            warm_transfer.call_transfer_warm_complete(call=call, actor=principal)
        elif action == "transfer-cancel":
            warm_transfer.call_transfer_warm_cancel(call=call, actor=principal)
        else:
            incall.call_wrapup(
                call=call,
                agent=agent,
                disposition=request.POST.get("disposition", ""),
                note=request.POST.get("note", "")[:10000],
                open_ticket=request.POST.get("open_ticket") == "on",
                actor=principal,
            )
    except ValidationError as exc:
        return _fragment(request, agent, error=_error_text(exc), status=400)
    except incall.CallConflict as exc:
        return _fragment(request, agent, error=str(exc), status=409)
    response = _fragment(request, agent)
    if action == "mute":
        response["HX-Trigger"] = "softphone-muted"
    elif action == "unmute":
        response["HX-Trigger"] = "softphone-unmuted"
    elif action == "wrapup":
        response["HX-Trigger"] = "work-changed"
    return response
