from telephony.models.calls import (
    TERMINAL_STATUSES,
    Call,
    CallEvent,
    CallOutcome,
    CallStatus,
    Recording,
    Voicemail,
)
from telephony.models.ivr import IvrAction, IvrMenu, IvrOption
from telephony.models.numbers import PhoneNumber, RecordingPolicy

__all__ = [
    "TERMINAL_STATUSES",
    "Call",
    "CallEvent",
    "CallOutcome",
    "CallStatus",
    "IvrAction",
    "IvrMenu",
    "IvrOption",
    "PhoneNumber",
    "Recording",
    "RecordingPolicy",
    "Voicemail",
]
