"""Twilio Voice webhooks, mounted at /hooks/twilio/voice/ (see README, "Connecting Twilio").

The first two are pasted into Twilio's console; every other URL reaches Twilio inside the TwiML
we answer with, always absolute under PUBLIC_BASE_URL (`telephony.services.common.hook_url`).
"""

from django.urls import path

from telephony import conference_webhooks, incall_webhooks, outbound_webhooks, webhooks

app_name = "telephony"

urlpatterns = [
    path("", webhooks.incoming, name="voice-incoming"),
    path("status/", webhooks.status, name="voice-status"),
    path("gather/<int:menu_id>/<int:attempt>/", webhooks.gather, name="voice-gather"),
    path("calls/<int:call_id>/queue/wait/", webhooks.queue_wait, name="voice-queue-wait"),
    path("calls/<int:call_id>/queue/exit/", webhooks.queue_exit, name="voice-queue-exit"),
    path(
        "calls/<int:call_id>/queue/callback/",
        outbound_webhooks.queue_callback,
        name="voice-queue-callback",
    ),
    path(
        "calls/<int:call_id>/outbound/connect/",
        outbound_webhooks.connect,
        name="voice-outbound-connect",
    ),
    path("calls/<int:call_id>/outbound/dial/", outbound_webhooks.dial, name="voice-outbound-dial"),
    path(
        "calls/<int:call_id>/outbound/notice/",
        outbound_webhooks.notice,
        name="voice-outbound-notice",
    ),
    path(
        "calls/<int:call_id>/outbound/leg/",
        outbound_webhooks.customer_leg,
        name="voice-outbound-leg",
    ),
    path("calls/<int:call_id>/ring/<int:offer_id>/", webhooks.ring, name="voice-ring"),
    path("calls/<int:call_id>/dial/<int:offer_id>/", webhooks.dial, name="voice-dial"),
    path(
        "calls/<int:call_id>/dial/<int:offer_id>/leg/", webhooks.agent_leg, name="voice-agent-leg"
    ),
    path("calls/<int:call_id>/voicemail/", webhooks.voicemail, name="voice-voicemail"),
    path("calls/<int:call_id>/recording/", webhooks.recording, name="voice-recording"),
    path("calls/<int:call_id>/transcription/", webhooks.transcription, name="voice-transcription"),
    # In the call (telephony.incall_webhooks): hold music, reconnecting an agent, transfers.
    path("calls/<int:call_id>/hold/", incall_webhooks.hold, name="voice-hold"),
    path(
        "calls/<int:call_id>/connect/<int:agent_id>/",
        incall_webhooks.connect,
        name="voice-connect",
    ),
    path(
        "calls/<int:call_id>/connect/<int:agent_id>/dial/",
        incall_webhooks.connect_dial,
        name="voice-connect-dial",
    ),
    path(
        "calls/<int:call_id>/connect/<int:agent_id>/leg/",
        incall_webhooks.connect_leg,
        name="voice-connect-leg",
    ),
    # The conference bridge (telephony.conference_webhooks), behind TELEPHONY_CONFERENCE_BRIDGE.
    path(
        "calls/<int:call_id>/conference/",
        conference_webhooks.conference,
        name="voice-conference",
    ),
    path(
        "calls/<int:call_id>/conference/agent/<int:offer_id>/",
        conference_webhooks.agent,
        name="voice-conference-agent",
    ),
    path(
        "calls/<int:call_id>/conference/agent/<int:offer_id>/leg/",
        conference_webhooks.agent_leg,
        name="voice-conference-agent-leg",
    ),
    path(
        "calls/<int:call_id>/conference/caller/",
        conference_webhooks.caller,
        name="voice-conference-caller",
    ),
    path(
        "calls/<int:call_id>/conference/done/",
        conference_webhooks.done,
        name="voice-conference-done",
    ),
    path(
        "calls/<int:call_id>/transfer/queue/<int:queue_id>/",
        incall_webhooks.transfer_queue,
        name="voice-transfer-queue",
    ),
]
