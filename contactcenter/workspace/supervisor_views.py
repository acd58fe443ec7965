"""The supervisor wallboard (/supervisor/).

Thin views: reads come from contactcenter.workspace.supervisor_selectors, writes from the
services (crm presence, channels_inbox assignment). The page is made of fragments that each have
their own URL (/supervisor/panel/<name>/); htmx swaps a fragment after a button press, and
static/js/live.js re-fetches a fragment when a live event it lists says it changed.

Who may see what: supervisors and managers of a tenant (superusers: every tenant). Anyone else
gets 403; an agent or conversation of a tenant the user does not supervise answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels_inbox.models import Conversation
from channels_inbox.services.conversations import conversation_assign
from contactcenter.workspace import supervisor_selectors as selectors
from crm.models import AgentProfile, Presence, Tenant
from crm.services.presence import agent_set_presence
from crm.tenancy import Principal, principal_for_user

MONITOR_TEMPLATE = "supervisor/_monitor.html"
# Chart geometry (SVG user units); the SVG scales to the panel's width.
CHART_WIDTH = 960
CHART_HEIGHT = 180
CHART_PAD_BOTTOM = 18


def _tenant_param(request: HttpRequest) -> int | None:
    value = request.GET.get("tenant") or request.POST.get("tenant")
    return int(value) if value and value.isdigit() else None


def _supervised_tenant(request: HttpRequest) -> tuple[Principal, list[Tenant], Tenant]:
    principal = principal_for_user(request.user)
    tenants = selectors.supervised_tenants(principal)
    if not tenants:
        raise PermissionDenied(_("Only supervisors and managers see the wallboard."))
    wanted = _tenant_param(request)
    chosen = next((t for t in tenants if t.pk == wanted), tenants[0])
    if wanted is not None and chosen.pk != wanted:
        raise PermissionDenied(_("You do not supervise this tenant."))
    return principal, tenants, chosen


@cache
def _monitor_template() -> str | None:
    # The voice helper's listen/whisper/barge buttons; the wallboard works without them.
    try:
        get_template(MONITOR_TEMPLATE)
    except TemplateDoesNotExist:
        return None
    return MONITOR_TEMPLATE


# --- panels: each is one live fragment with its own context ----------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    value: int


def volume_chart(slots: list[selectors.VolumeSlot]) -> dict[str, Any]:
    """Geometry of the volume chart: two bars per 15-minute interval (calls, messages) over the
    whole day (96 intervals), scaled to the busiest interval so far."""
    per_day = 24 * 60 // selectors.INTERVAL_MINUTES
    step = CHART_WIDTH / per_day
    bar_width = step / 2 - 0.5
    top = max([max(s.calls, s.messages) for s in slots] + [1])
    plot_height = CHART_HEIGHT - CHART_PAD_BOTTOM
    calls, messages = [], []
    for index, slot in enumerate(slots):
        for series, value, offset in (
            (calls, slot.calls, 0.0),
            (messages, slot.messages, step / 2),
        ):
            height = plot_height * value / top
            series.append(
                Bar(x=index * step + offset, y=plot_height - height, height=height, value=value)
            )
    hours = [
        {"x": hour * 4 * step, "label": f"{hour:02d}"} for hour in range(0, 24, 3)
    ]  # a tick every three hours
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "plot_height": plot_height,
        "bar_width": bar_width,
        "calls": list(zip(slots, calls, strict=True)),
        "messages": list(zip(slots, messages, strict=True)),
        "hours": hours,
        "top": top,
        "total_calls": sum(s.calls for s in slots),
        "total_messages": sum(s.messages for s in slots),
        "busy_slots": [s for s in slots if s.total],
    }


def _panel_context(name: str, principal: Principal, tenant: Tenant) -> dict[str, Any]:
    now = timezone.now()
    tz = timezone.get_current_timezone()
    if name == "summary":
        return {
            "summary": selectors.wallboard_summary(
                principal=principal, tenant_id=tenant.pk, now=now, tz=tz
            )
        }
    if name == "queues":
        return {
            "queue_rows": selectors.wallboard_queues(
                principal=principal, tenant_id=tenant.pk, now=now, tz=tz
            ),
            "unassigned": selectors.wallboard_unassigned(principal=principal, tenant_id=tenant.pk),
        }
    if name == "agents":
        return {
            "agent_rows": selectors.wallboard_agents(principal=principal, tenant_id=tenant.pk),
            "presences": Presence.choices,
            "monitor_template": _monitor_template(),
        }
    if name == "conversations":
        return {
            "conversations": selectors.wallboard_unassigned_conversations(
                principal=principal, tenant_id=tenant.pk
            ),
            "held": selectors.wallboard_held_conversations(
                principal=principal, tenant_id=tenant.pk
            ),
            "assignable": selectors.assignable_agents(principal=principal, tenant_id=tenant.pk),
        }
    if name == "volume":
        slots = selectors.volume_today(principal=principal, tenant_id=tenant.pk, now=now, tz=tz)
        return {"chart": volume_chart(slots)}
    if name == "log":
        return {
            "log": selectors.remote_presence_log(
                principal=principal, tenant_id=tenant.pk, now=now, tz=tz
            )
        }
    raise Http404


PANELS = ("summary", "queues", "volume", "agents", "conversations", "log")


def _board_context(request: HttpRequest) -> dict[str, Any]:
    principal, tenants, tenant = _supervised_tenant(request)
    context: dict[str, Any] = {"tenants": tenants, "tenant": tenant, "now": timezone.now()}
    for name in PANELS:
        context.update(_panel_context(name, principal, tenant))
    return context


@require_GET
@login_required
def supervisor_wallboard(request: HttpRequest) -> HttpResponse:
    return render(request, "supervisor/wallboard.html", _board_context(request))


@require_GET
@login_required
def supervisor_board(request: HttpRequest) -> HttpResponse:
    """Every panel of the wallboard at once (what a reconnecting page may re-fetch)."""
    return render(request, "supervisor/_board.html", _board_context(request))


@require_GET
@login_required
def supervisor_panel(request: HttpRequest, name: str) -> HttpResponse:
    """One panel, as live.js re-fetches it when an event it listens to arrives."""
    if name not in PANELS:
        raise Http404
    principal, tenants, tenant = _supervised_tenant(request)
    context = {"tenants": tenants, "tenant": tenant, "now": timezone.now()}
    context.update(_panel_context(name, principal, tenant))
    return render(request, f"supervisor/_{name}.html", context)


# --- actions ---------------------------------------------------------------------------------


def _panel_response(request: HttpRequest, name: str, principal: Principal, tenant: Tenant):
    context = {"tenant": tenant, "now": timezone.now()}
    context.update(_panel_context(name, principal, tenant))
    return render(request, f"supervisor/_{name}.html", context)


def _refused(reason: str, status: int = 400) -> HttpResponse:
    # htmx does not swap 4xx answers; the page shows this text in its error bar (wallboard.html).
    return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")


@require_POST
@login_required
def supervisor_agent_presence(request: HttpRequest, agent_id: int) -> HttpResponse:
    """Set an agent's presence for them (logged with the supervisor as `changed_by`); answers
    the agents panel."""
    principal, _tenants, tenant = _supervised_tenant(request)
    try:
        agent = selectors.agent_for_supervisor(
            principal=principal, tenant_id=tenant.pk, agent_id=agent_id
        )
    except AgentProfile.DoesNotExist:
        raise Http404 from None
    presence = request.POST.get("presence", "")
    if presence not in Presence.values:
        return _refused(_("Unknown presence."))
    reason = request.POST.get("reason", "").strip()
    if len(reason) > 100:
        return _refused(_("The reason may be at most 100 characters."))
    try:
        agent_set_presence(agent=agent, presence=presence, reason=reason, actor=principal)
    except ValidationError as error:
        return _refused(" ".join(error.messages))
    return _panel_response(request, "agents", principal, tenant)


@require_POST
@login_required
def supervisor_conversation_assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Give an open conversation to an agent of its tenant (`assignee` = the agent's id), or
    put it back in its queue (`assignee=none`); answers the conversations panel."""
    principal, _tenants, tenant = _supervised_tenant(request)
    try:
        conversation = selectors.conversation_for_supervisor(
            principal=principal, tenant_id=tenant.pk, conversation_id=conversation_id
        )
    except Conversation.DoesNotExist:
        raise Http404 from None
    wanted = request.POST.get("assignee", "")
    assignee = None
    if wanted != "none":
        if not wanted.isdigit():
            return _refused(_("Choose an agent."))
        try:
            assignee = selectors.agent_for_supervisor(
                principal=principal, tenant_id=tenant.pk, agent_id=int(wanted)
            ).user
        except AgentProfile.DoesNotExist:
            return _refused(_("That agent does not work for this tenant."))
    try:
        conversation_assign(conversation=conversation, assignee=assignee, actor=principal)
    except NotImplementedError:
        return _refused(_("Reassigning conversations is not available yet."), status=501)
    except ValidationError as error:
        return _refused(" ".join(error.messages))
    except PermissionDenied as error:
        return _refused(str(error) or _("Not allowed."), status=403)
    return _panel_response(request, "conversations", principal, tenant)


@require_GET
@login_required
def supervisor_agent_log(request: HttpRequest, agent_id: int) -> HttpResponse:
    """One agent's presence log: when they were in which state, and who changed it."""
    principal, tenants, tenant = _supervised_tenant(request)
    try:
        agent = selectors.agent_for_supervisor(
            principal=principal, tenant_id=tenant.pk, agent_id=agent_id
        )
    except AgentProfile.DoesNotExist:
        raise Http404 from None
    # ?fragment=1 is how live.js re-fetches the log section alone.
    fragment = bool(request.GET.get("fragment"))
    return render(
        request,
        "supervisor/_agent_log.html" if fragment else "supervisor/agent_log.html",
        {
            "tenants": tenants,
            "tenant": tenant,
            "agent": agent,
            "log": selectors.agent_presence_log(principal=principal, agent=agent),
            "now": timezone.now(),
        },
    )
