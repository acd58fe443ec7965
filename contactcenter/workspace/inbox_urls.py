"""The agent workspace's inbox, contact and ticket pages and fragments (under /agent/)."""

from django.urls import path

from contactcenter.workspace import inbox_views, views

urlpatterns = [
    path(
        "agent/conversations/<int:pk>/",
        inbox_views.conversation_page,
        name="agent-conversation",
    ),
    path(
        "agent/conversations/<int:pk>/thread/",
        inbox_views.conversation_thread,
        name="agent-conversation-thread",
    ),
    path(
        "agent/conversations/<int:pk>/header/",
        inbox_views.conversation_header,
        name="agent-conversation-header",
    ),
    path(
        "agent/conversations/<int:pk>/reply/",
        inbox_views.conversation_reply,
        name="agent-conversation-reply",
    ),
    path(
        "agent/conversations/<int:pk>/status/",
        inbox_views.conversation_status,
        name="agent-conversation-status",
    ),
    path(
        "agent/conversations/<int:pk>/assign/",
        inbox_views.conversation_assign_view,
        name="agent-conversation-assign",
    ),
    path(
        "agent/conversations/<int:pk>/messages/<int:message_id>/retry/",
        inbox_views.conversation_message_retry,
        name="agent-message-retry",
    ),
    path(
        "agent/contacts/<int:contact_id>/edit/",
        views.agent_contact_edit,
        name="agent-contact-edit",
    ),
    path(
        "agent/contacts/<int:contact_id>/merge/",
        views.agent_contact_merge,
        name="agent-contact-merge",
    ),
    path("agent/tickets/<int:ticket_id>/", views.agent_ticket, name="agent-ticket"),
]
