"""The browser softphone's endpoints: its access token, and (simulator mode) its calls.

`GET /telephony/token/` — a Voice JS SDK token for the signed-in agent.
`GET /telephony/simulator/calls/` and `POST /telephony/simulator/calls/<leg sid>/<action>/`
(accept, reject, hangup) — without Twilio credentials there is no Twilio `Device`: the softphone
lists the simulated calls ringing it and presses its buttons here (no audio).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from crm.models import AgentProfile
from crm.tenancy import principal_for_user, scope
from telephony.providers.base import get_voice_provider
from telephony.services.common import agent_identity
from telephony.simulator import softphone

TOKEN_TTL_SECONDS = 3600


def _is_agent(request: HttpRequest) -> bool:
    principal = principal_for_user(request.user)
    return scope(AgentProfile.objects.filter(user=request.user), principal).exists()


def _refused() -> JsonResponse:
    return JsonResponse({"detail": "Only agents have a softphone."}, status=403)


@never_cache
@require_GET
@login_required
def softphone_token(request: HttpRequest) -> JsonResponse:
    """A Voice JS SDK token for the signed-in agent; 403 for users who are not agents.

    `simulated` tells the softphone to use the simulator mode (no audio, answer/hang-up
    buttons, the endpoints below) instead of registering a Twilio `Device`.
    """
    if not _is_agent(request):
        return _refused()
    identity = agent_identity(request.user.pk)
    token = get_voice_provider().access_token(identity=identity, ttl_seconds=TOKEN_TTL_SECONDS)
    return JsonResponse(
        {
            "token": token,
            "identity": identity,
            "ttl": TOKEN_TTL_SECONDS,
            "simulated": settings.TWILIO_SIMULATED,
        }
    )


@never_cache
@require_GET
@login_required
def simulated_calls(request: HttpRequest) -> JsonResponse:
    """The simulated calls ringing (or connected to) the agent's softphone."""
    if not settings.TWILIO_SIMULATED:
        return JsonResponse({"detail": "Not in simulator mode."}, status=404)
    if not _is_agent(request):
        return _refused()
    return JsonResponse({"legs": softphone.legs_for(agent_identity(request.user.pk))})


@require_POST
@login_required
def simulated_call_action(request: HttpRequest, leg_sid: str, action: str) -> HttpResponse:
    """The agent pressed accept, reject or hang up; 409 when the leg is not theirs (any more)
    or the button does not fit its state."""
    if not settings.TWILIO_SIMULATED:
        return JsonResponse({"detail": "Not in simulator mode."}, status=404)
    if not _is_agent(request):
        return _refused()
    identity = agent_identity(request.user.pk)
    if not softphone.leg_decide(identity=identity, leg_sid=leg_sid, action=action):
        return JsonResponse({"detail": f"Cannot {action} this call now."}, status=409)
    return HttpResponse(status=204)
