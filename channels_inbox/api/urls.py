"""Inbox REST API under /api/v1/: conversations, messages, channels, attachments."""

urlpatterns: list = []
