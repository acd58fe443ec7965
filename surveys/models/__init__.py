from surveys.models.responses import (
    Answer,
    ChannelSurvey,
    DispositionState,
    Mode,
    QueueSurvey,
    ResponseStatus,
    SurveyInvitation,
    SurveyResponse,
)
from surveys.models.surveys import Step, StepKind, Survey, SurveyVersion, VersionStatus

__all__ = [
    "Answer",
    "ChannelSurvey",
    "DispositionState",
    "Mode",
    "QueueSurvey",
    "ResponseStatus",
    "Step",
    "StepKind",
    "Survey",
    "SurveyInvitation",
    "SurveyResponse",
    "SurveyVersion",
    "VersionStatus",
]
