"""The small interface the app uses to act on calls at the provider (REST, not webhooks).

Implementations: `telephony.providers.twilio.TwilioVoiceProvider` (the twilio SDK) and
`telephony.providers.simulated.SimulatedVoiceProvider` (records each request so the simulated
Twilio can act on it). Call these from Celery tasks, never inside a webhook request.
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class VoiceProvider(Protocol):
    def create_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        timeout: int = 30,
        record: bool = False,
        machine_detection: str | None = None,
    ) -> str:
        """Place an outbound call whose TwiML is fetched from `url`; returns its CallSid."""
        ...

    def update_call(
        self,
        *,
        call_sid: str,
        url: str | None = None,
        twiml: str | None = None,
        status: str | None = None,
    ) -> None:
        """Redirect a live call to new TwiML (`url` or inline `twiml`), or end it
        (`status="completed"`, or `"canceled"` while it is still ringing)."""
        ...

    def participant_create(
        self,
        *,
        conference: str,
        to: str,
        from_: str,
        label: str,
        status_callback: str,
        muted: bool = False,
        coaching: bool = False,
        call_sid_to_coach: str | None = None,
        timeout: int = 30,
    ) -> str:
        """Ring `to` into the conference (friendly name; created when it does not exist yet);
        the conference's status callbacks go to `status_callback`. Returns the new CallSid."""
        ...

    def participant_update(
        self,
        *,
        conference_sid: str,
        call_sid: str,
        muted: bool | None = None,
        hold: bool | None = None,
        hold_url: str | None = None,
        coaching: bool | None = None,
        call_sid_to_coach: str | None = None,
    ) -> None:
        """Change a participant: mute, hold (with `hold_url` music), coach another leg."""
        ...

    def participant_delete(self, *, conference_sid: str, call_sid: str) -> None:
        """Take a participant out of the conference (their leg ends)."""
        ...

    def access_token(self, *, identity: str, ttl_seconds: int = 3600) -> str:
        """A Voice JS SDK access token (JWT with a VoiceGrant) for a browser agent."""
        ...


def get_voice_provider() -> VoiceProvider:
    path = (
        "telephony.providers.simulated.SimulatedVoiceProvider"
        if settings.TWILIO_SIMULATED
        else "telephony.providers.twilio.TwilioVoiceProvider"
    )
    return import_string(path)()
