"""The supervisor wallboard: /supervisor/..."""

from django.urls import path

from contactcenter.workspace import supervisor_views as views

urlpatterns = [
    path("supervisor/", views.supervisor_wallboard, name="supervisor-wallboard"),
    path("supervisor/board/", views.supervisor_board, name="supervisor-board"),
    path("supervisor/panel/<slug:name>/", views.supervisor_panel, name="supervisor-panel"),
    path(
        "supervisor/agents/<int:agent_id>/presence/",
        views.supervisor_agent_presence,
        name="supervisor-agent-presence",
    ),
    path(
        "supervisor/agents/<int:agent_id>/log/",
        views.supervisor_agent_log,
        name="supervisor-agent-log",
    ),
    path(
        "supervisor/conversations/<int:conversation_id>/assign/",
        views.supervisor_conversation_assign,
        name="supervisor-conversation-assign",
    ),
]
