"""The call script panel's URLs (contactcenter.workspace.script_views), under /agent/script/."""

from django.urls import path

from contactcenter.workspace import script_views

urlpatterns = [
    path("agent/script/", script_views.script_panel, name="agent-script"),
    path("agent/script/start/", script_views.script_start, name="agent-script-start"),
    path(
        "agent/script/<int:response_id>/answer/",
        script_views.script_answer,
        name="agent-script-answer",
    ),
    path(
        "agent/script/<int:response_id>/back/", script_views.script_back, name="agent-script-back"
    ),
    path("agent/script/<int:response_id>/end/", script_views.script_end, name="agent-script-end"),
    path(
        "agent/script/<int:response_id>/disposition/",
        script_views.script_disposition,
        name="agent-script-disposition",
    ),
]
