"""One view: a primary-key query and fixed TwiML, the least any webhook could do."""

import os

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm.models import Tenant

TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    "<Response><Say>Thank you for calling.</Say><Hangup/></Response>"
)
# The row to fetch, chosen by the benchmark (its tenant).
PK = int(os.environ.get("BENCH_BASELINE_PK", "1"))


@csrf_exempt
@require_POST
def incoming(request: HttpRequest) -> HttpResponse:
    Tenant.objects.only("pk").get(pk=PK)
    return HttpResponse(TWIML, content_type="text/xml; charset=utf-8")


urlpatterns = [path("hooks/twilio/voice/", incoming)]
