"""The browser workspace, mounted at the site root: /agent/... and /supervisor/..."""

from django.urls import path

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
    path("supervisor/", views.supervisor_wallboard, name="supervisor-wallboard"),
    path("supervisor/board/", views.supervisor_board, name="supervisor-board"),
]
