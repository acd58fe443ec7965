"""The agent workspace (/agent/) and the supervisor wallboard (/supervisor/).

Thin views: reads come from contactcenter.workspace.selectors, writes from crm's services.
Each page is made of fragments that have their own URL; htmx swaps a fragment after a button
press, and static/js/live.js re-fetches it when a live event says it changed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from contactcenter.workspace import selectors
from crm.models import AgentProfile, Offer, Presence, TicketStatus
from crm.services.presence import agent_set_presence
from crm.services.routing import RoutingError, offer_accept, offer_decline
from crm.tenancy import principal_for_user

# The states an agent may pick; BUSY is set by the system while on a call.
AGENT_PRESENCES = (
    Presence.AVAILABLE,
    Presence.BREAK,
    Presence.AFTER_CALL_WORK,
    Presence.OFFLINE,
)
BREAK_REASONS = (
    gettext_lazy("Lunch"),
    gettext_lazy("Coffee"),
    gettext_lazy("Training"),
    gettext_lazy("Meeting"),
)


def _tenant_param(request: HttpRequest) -> int | None:
    value = request.GET.get("tenant") or request.POST.get("tenant")
    return int(value) if value and value.isdigit() else None


def _agent(request: HttpRequest) -> AgentProfile:
    principal = principal_for_user(request.user)
    agent = selectors.agent_profile_for(principal=principal, tenant_id=_tenant_param(request))
    if agent is None:
        raise PermissionDenied(_("Only agents have a workspace."))
    return agent


def _filters(request: HttpRequest) -> selectors.WorkFilter:
    queue = request.GET.get("queue", "")
    status = request.GET.get("status", "")
    return selectors.WorkFilter(
        queue_id=int(queue) if queue.isdigit() else None,
        status=status if status in TicketStatus.values else "",
    )


def _work_context(request: HttpRequest, agent: AgentProfile) -> dict:
    principal = principal_for_user(request.user)
    filters = _filters(request)
    return {
        "agent": agent,
        "filters": filters,
        "offers": list(selectors.pending_offers_for(agent=agent)),
        "assigned": selectors.assigned_work_for(agent=agent, filters=filters),
        "tickets": list(
            selectors.open_tickets_for(principal=principal, agent=agent, filters=filters)
        ),
        "now": timezone.now(),
    }


@require_GET
@login_required
def agent_workspace(request: HttpRequest) -> HttpResponse:
    agent = _agent(request)
    principal = principal_for_user(request.user)
    context = _work_context(request, agent)
    context.update(
        {
            "presences": AGENT_PRESENCES,
            "break_reasons": BREAK_REASONS,
            "queues": list(selectors.agent_queues(principal=principal, agent=agent)),
            "ticket_statuses": TicketStatus.choices,
            "simulated": settings.TWILIO_SIMULATED,
        }
    )
    return render(request, "agent/workspace.html", context)


@require_GET
@login_required
def agent_work(request: HttpRequest) -> HttpResponse:
    """The work list fragment: offers, assigned items and open tickets."""
    agent = _agent(request)
    return render(request, "agent/_work.html", _work_context(request, agent))


@require_POST
@login_required
def agent_presence(request: HttpRequest) -> HttpResponse:
    """Set the agent's own presence; answers the presence fragment and tells the page to
    refresh its work list (becoming available may bring offers at once)."""
    agent = _agent(request)
    presence = request.POST.get("presence", "")
    if presence not in AGENT_PRESENCES:
        return HttpResponse(_("Unknown presence."), status=400)
    reason = request.POST.get("reason", "").strip()[:100] if presence == Presence.BREAK else ""
    agent = agent_set_presence(
        agent=agent,
        presence=presence,
        reason=reason,
        actor=principal_for_user(request.user),
    )
    response = render(
        request,
        "agent/_presence.html",
        {"agent": agent, "presences": AGENT_PRESENCES, "break_reasons": BREAK_REASONS},
    )
    response["HX-Trigger"] = "work-changed"
    return response


@require_POST
@login_required
def agent_offer_respond(request: HttpRequest, offer_id: int, action: str) -> HttpResponse:
    """Accept or decline one of the agent's own offers, then answer the fresh work list."""
    agent = _agent(request)
    offer = get_object_or_404(Offer, pk=offer_id, agent=agent)
    error = ""
    try:
        if action == "accept":
            offer_accept(offer=offer, agent=agent)
        elif action == "decline":
            offer_decline(offer=offer, agent=agent)
        else:
            raise Http404
    except (RoutingError, ValidationError) as exc:
        error = str(exc)
    context = _work_context(request, agent)
    context["error"] = error
    return render(request, "agent/_work.html", context)


@require_GET
@login_required
def agent_contact(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The contact panel: details, identities and the timeline, newest first."""
    agent = _agent(request)
    card = selectors.contact_card(
        principal=principal_for_user(request.user),
        contact_id=contact_id,
        tenant_id=agent.tenant_id,
    )
    if card is None:
        raise Http404
    return render(request, "agent/_contact.html", {"card": card, "agent": agent})
