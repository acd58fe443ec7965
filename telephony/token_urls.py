"""The softphone's endpoints, mounted at /telephony/ (the webhooks live in telephony.urls)."""

from django.urls import path

from telephony import token_views

urlpatterns = [
    path("token/", token_views.softphone_token, name="telephony-token"),
    path("simulator/calls/", token_views.simulated_calls, name="telephony-simulated-calls"),
    path(
        "simulator/calls/<str:leg_sid>/<str:action>/",
        token_views.simulated_call_action,
        name="telephony-simulated-call-action",
    ),
]
