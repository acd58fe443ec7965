"""Twilio Voice webhooks, mounted at /hooks/twilio/voice/ (see README, "Connecting Twilio").

The first two are pasted into Twilio's console; every other URL reaches Twilio inside the TwiML
we answer with, always absolute under PUBLIC_BASE_URL (`telephony.services.common.hook_url`).
"""

from django.urls import path

from telephony import webhooks

app_name = "telephony"

urlpatterns = [
    path("", webhooks.incoming, name="voice-incoming"),
    path("status/", webhooks.status, name="voice-status"),
    path("gather/<int:menu_id>/<int:attempt>/", webhooks.gather, name="voice-gather"),
    path("calls/<int:call_id>/queue/wait/", webhooks.queue_wait, name="voice-queue-wait"),
    path("calls/<int:call_id>/queue/exit/", webhooks.queue_exit, name="voice-queue-exit"),
    path("calls/<int:call_id>/ring/<int:offer_id>/", webhooks.ring, name="voice-ring"),
    path("calls/<int:call_id>/dial/<int:offer_id>/", webhooks.dial, name="voice-dial"),
    path(
        "calls/<int:call_id>/dial/<int:offer_id>/leg/", webhooks.agent_leg, name="voice-agent-leg"
    ),
    path("calls/<int:call_id>/voicemail/", webhooks.voicemail, name="voice-voicemail"),
    path("calls/<int:call_id>/recording/", webhooks.recording, name="voice-recording"),
    path("calls/<int:call_id>/transcription/", webhooks.transcription, name="voice-transcription"),
]
