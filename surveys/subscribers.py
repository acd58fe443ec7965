"""Reactions to other apps' events (registered in SurveysConfig.ready)."""

from __future__ import annotations

from crm.events import DomainEvent
from surveys.services.links import survey_invite_on_resolve
from surveys.services.runs import call_ended


def on_event(event: DomainEvent) -> None:
    """A resolved conversation may get a web survey link (per channel setting); an ended call
    settles its scripts' pending dispositions and its unfinished IVR survey."""
    if event.name == "conversation.status_changed":
        if event.payload.get("status") == "resolved" and event.payload.get("conversation_id"):
            survey_invite_on_resolve(conversation_id=int(event.payload["conversation_id"]))
    elif event.name == "call.ended" and event.payload.get("call_id"):
        call_ended(call_id=int(event.payload["call_id"]))
