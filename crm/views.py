from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm.tenancy import principal_for_user, visible_tenants


@login_required
def home(request: HttpRequest) -> HttpResponse:
    principal = principal_for_user(request.user)
    tenants = [
        {"tenant": tenant, "role": principal.role_in(tenant.pk)}
        for tenant in visible_tenants(principal)
    ]
    return render(request, "home.html", {"tenants": tenants})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
