"""Inbound email for providers that forward mail or an MTA pipe: POST /hooks/email/<token>/."""

app_name = "channels_inbox_email"

urlpatterns: list = []
