"""The supervisor wallboard (/supervisor/).

Thin views: reads come from contactcenter.workspace.selectors, writes from crm's services.
Each page is made of fragments that have their own URL; htmx swaps a fragment after a button
press, and static/js/live.js re-fetches it when a live event says it changed.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from contactcenter.workspace import supervisor_selectors as selectors
from crm.tenancy import principal_for_user

# --- supervisor --------------------------------------------------------------------------


def _tenant_param(request: HttpRequest) -> int | None:
    value = request.GET.get("tenant") or request.POST.get("tenant")
    return int(value) if value and value.isdigit() else None


def _supervised_tenant(request: HttpRequest):
    tenants = selectors.supervised_tenants(principal_for_user(request.user))
    if not tenants:
        raise PermissionDenied(_("Only supervisors and managers see the wallboard."))
    wanted = _tenant_param(request)
    chosen = next((t for t in tenants if t.pk == wanted), tenants[0])
    if wanted is not None and chosen.pk != wanted:
        raise PermissionDenied(_("You do not supervise this tenant."))
    return tenants, chosen


def _wallboard_context(request: HttpRequest) -> dict:
    tenants, tenant = _supervised_tenant(request)
    principal = principal_for_user(request.user)
    return {
        "tenants": tenants,
        "tenant": tenant,
        "queue_rows": selectors.wallboard_queues(principal=principal, tenant_id=tenant.pk),
        "agents": selectors.wallboard_agents(principal=principal, tenant_id=tenant.pk),
        "unassigned": selectors.wallboard_unassigned(principal=principal, tenant_id=tenant.pk),
        "now": timezone.now(),
    }


@require_GET
@login_required
def supervisor_wallboard(request: HttpRequest) -> HttpResponse:
    return render(request, "supervisor/wallboard.html", _wallboard_context(request))


@require_GET
@login_required
def supervisor_board(request: HttpRequest) -> HttpResponse:
    """The wallboard's live fragment (queues, agents, unassigned work)."""
    return render(request, "supervisor/_board.html", _wallboard_context(request))
