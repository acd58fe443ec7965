"""Public inbound endpoints of the inbox other than email, mounted at the site root (README):
/hooks/twilio/messaging/ (+ status/), /hooks/meta/, /hooks/fax/<token>/, /forms/<token>/."""

app_name = "channels_inbox"

urlpatterns: list = []
