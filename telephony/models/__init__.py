from telephony.models.calls import (
    TERMINAL_STATUSES,
    Call,
    CallEvent,
    CallOutcome,
    CallStatus,
    Recording,
    Voicemail,
)
from telephony.models.conference import ConferenceParticipant, MonitorMode, ParticipantRole
from telephony.models.dispositions import DispositionCode
from telephony.models.ivr import IvrAction, IvrMenu, IvrOption
from telephony.models.numbers import PhoneNumber, RecordingPolicy
from telephony.models.outbound import (
    CallbackRequest,
    MaxWaitAction,
    OutboundCall,
    QueueVoiceSettings,
)

__all__ = [
    "TERMINAL_STATUSES",
    "Call",
    "CallEvent",
    "CallOutcome",
    "CallStatus",
    "CallbackRequest",
    "ConferenceParticipant",
    "DispositionCode",
    "IvrAction",
    "IvrMenu",
    "IvrOption",
    "MaxWaitAction",
    "MonitorMode",
    "OutboundCall",
    "ParticipantRole",
    "PhoneNumber",
    "QueueVoiceSettings",
    "Recording",
    "RecordingPolicy",
    "Voicemail",
]
