"""Public inbound endpoints of the inbox other than email, mounted at the site root (README):
/hooks/twilio/messaging/ (+ status/), /hooks/meta/, /hooks/fax/<token>/, /forms/<token>/, and
the agents' page for scanned letters, /agent/post/new/."""

from django.urls import path

from channels_inbox import views
from channels_inbox.webhooks import fax, meta, twilio_messaging

app_name = "channels_inbox"

urlpatterns = [
    path("hooks/twilio/messaging/", twilio_messaging.incoming, name="twilio-messaging"),
    path(
        "hooks/twilio/messaging/status/",
        twilio_messaging.status,
        name="twilio-messaging-status",
    ),
    path("hooks/meta/", meta.meta_webhook, name="meta"),
    path("hooks/fax/<str:token>/", fax.fax_webhook, name="fax"),
    path("forms/<str:token>/", views.webform, name="webform"),
    path("agent/post/new/", views.post_new, name="post-new"),
]
