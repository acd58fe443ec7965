"""Supervisor listen-in / whisper / barge buttons (/supervisor/calls/<id>/monitor/...).

Thin views over `telephony.services.monitoring`. Supervisors and managers of the call's tenant
only (anyone else 403; a call of a tenant they do not supervise 404). Every answer is the
`supervisor/_monitor.html` fragment: 200 after a change, 409 with the reason when the call
cannot be monitored now (not bridged through a conference, ended, not monitoring), 400 for an
unknown mode.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contactcenter.workspace.supervisor_selectors import supervised_tenants
from crm.tenancy import principal_for_user
from telephony.models import Call
from telephony.services.monitoring import (
    MODES,
    MonitorError,
    call_monitor,
    call_monitor_stop,
    supervisor_leg,
)

TEMPLATE = "supervisor/_monitor.html"


def _render(request: HttpRequest, call: Call, *, error: str = "", status: int = 200):
    leg = supervisor_leg(call, request.user.pk)
    context = {
        "call": call,
        "agent": call.agent,
        "monitoring": leg.monitor_mode if leg is not None else "",
        "monitor_error": error,
    }
    return render(request, TEMPLATE, context, status=status)


@login_required
@require_POST
def call_monitor_action(request: HttpRequest, call_id: int, mode: str) -> HttpResponse:
    """`mode` is listen, whisper, barge or stop."""
    tenants = supervised_tenants(principal_for_user(request.user))
    if not tenants:
        raise PermissionDenied(_("Only supervisors and managers monitor calls."))
    call = (
        Call.objects.select_related("agent__user", "contact")
        .filter(pk=call_id, tenant__in=[tenant.pk for tenant in tenants])
        .first()
    )
    if call is None:
        raise Http404(_("No such call."))
    try:
        if mode == "stop":
            call_monitor_stop(call=call, supervisor_user_id=request.user.pk)
        elif mode in MODES:
            call_monitor(call=call, supervisor_user_id=request.user.pk, mode=mode)
        else:
            raise MonitorError(_("Unknown monitoring mode."), status=400)
    except MonitorError as exc:
        return _render(request, call, error=str(exc), status=exc.status)
    return _render(request, call)
