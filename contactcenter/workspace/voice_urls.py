"""The softphone panel's URLs (contactcenter.workspace.voice_views), under /agent/softphone/,
and the supervisor's monitoring buttons (contactcenter.workspace.monitor_views)."""

from django.urls import path

from contactcenter.workspace import monitor_views, voice_views

urlpatterns = [
    path("agent/softphone/", voice_views.softphone_call, name="agent-softphone-call"),
    path(
        "agent/softphone/calls/<int:call_id>/<str:action>/",
        voice_views.softphone_action,
        name="agent-softphone-action",
    ),
    path(
        "supervisor/calls/<int:call_id>/monitor/<str:mode>/",
        monitor_views.call_monitor_action,
        name="supervisor-call-monitor",
    ),
]
