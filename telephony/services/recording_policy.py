"""Whether a call is recorded: the queue's policy, else the number's; never without consent.

`QueueVoiceSettings.recording_policy` (when set) overrides the called number's
`PhoneNumber.recording_policy`; a contact with `consent_recording=False` is never recorded.
Outbound calls follow the caller-ID number's policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.models import Contact
from telephony.models import Call, PhoneNumber, QueueVoiceSettings, RecordingPolicy
from telephony.services.common import hook_url


@dataclass(frozen=True)
class RecordingDecision:
    record: bool
    announce: bool

    @classmethod
    def of(cls, policy: str) -> RecordingDecision:
        return cls(
            record=policy in (RecordingPolicy.RECORD, RecordingPolicy.ANNOUNCE_AND_RECORD),
            announce=policy == RecordingPolicy.ANNOUNCE_AND_RECORD,
        )


NO_RECORDING = RecordingDecision(record=False, announce=False)


def recording_policy_for(call: Call) -> RecordingDecision:
    """The recording decision for `call` (a few primary-key reads; not on the incoming path)."""
    if call.contact_id is not None:
        consent = Contact.objects.filter(pk=call.contact_id).values_list(
            "consent_recording", flat=True
        )
        if consent and consent[0] is False:
            return NO_RECORDING
    policy = ""
    if call.queue_id is not None:
        policy = (
            QueueVoiceSettings.objects.filter(queue_id=call.queue_id)
            .values_list("recording_policy", flat=True)
            .first()
            or ""
        )
    if not policy and call.phone_number_id is not None:
        policy = (
            PhoneNumber.objects.filter(pk=call.phone_number_id)
            .values_list("recording_policy", flat=True)
            .first()
            or ""
        )
    return RecordingDecision.of(policy)


def recording_status_url(call: Call) -> str:
    """Where the provider reports the call's recording (`telephony.services.recording_update`)."""
    return hook_url("voice-recording", call.pk)
