"""The browser workspace, mounted at the site root: /agent/... and /supervisor/..."""

from django.urls import include, path

from contactcenter.workspace import views

urlpatterns = [
    path("agent/", views.agent_workspace, name="agent-workspace"),
    path("agent/work/", views.agent_work, name="agent-work"),
    path("agent/presence/", views.agent_presence, name="agent-presence"),
    path(
        "agent/offers/<int:offer_id>/<str:action>/",
        views.agent_offer_respond,
        name="agent-offer-respond",
    ),
    path("agent/contacts/<int:contact_id>/", views.agent_contact, name="agent-contact"),
    # Each part of the workspace keeps its own URL module (inbox, scripts, softphone, supervisor).
    path("", include("contactcenter.workspace.inbox_urls")),
    path("", include("contactcenter.workspace.script_urls")),
    path("", include("contactcenter.workspace.voice_urls")),
    path("", include("contactcenter.workspace.supervisor_urls")),
]
