"""Inbound email for providers that forward mail or an MTA pipe: POST /hooks/email/<token>/."""

from django.urls import path

from channels_inbox.webhooks.email import email_hook

app_name = "channels_inbox_email"

urlpatterns = [path("<str:token>/", email_hook, name="hook")]
