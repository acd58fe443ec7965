"""Every write of the telephony app. Webhooks parse and verify, then call one of these."""

from telephony.services.bridging import (
    call_abandon,
    call_agent_leg_status,
    call_dial_result,
    call_queue_exit,
    call_queue_wait,
    call_ring,
    call_ring_agent,
)
from telephony.services.calls import call_enqueue, call_gather, call_incoming
from telephony.services.common import WebhookError, agent_identity, hook_url
from telephony.services.hours import is_open
from telephony.services.recordings import recording_update, voicemail_action, voicemail_receive
from telephony.services.status import call_status_update

__all__ = [
    "WebhookError",
    "agent_identity",
    "call_abandon",
    "call_agent_leg_status",
    "call_dial_result",
    "call_enqueue",
    "call_gather",
    "call_incoming",
    "call_queue_exit",
    "call_queue_wait",
    "call_ring",
    "call_ring_agent",
    "call_status_update",
    "hook_url",
    "is_open",
    "recording_update",
    "voicemail_action",
    "voicemail_receive",
]
