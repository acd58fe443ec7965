"""The real provider: Twilio's REST API and access tokens, through the twilio SDK.

Used when TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are set (see `get_voice_provider`). Every
method makes (at most) one synchronous HTTPS request, so call them from Celery tasks only.
"""

from __future__ import annotations

import re

from django.conf import settings
from twilio.http import HttpClient
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.rest import Client

# Twilio's rule for client identities: letters, digits and underscores, at most 121 characters.
IDENTITY_RE = re.compile(r"^[A-Za-z0-9_]{1,121}$")
MAX_TOKEN_TTL_SECONDS = 24 * 3600
# What the conference webhook is told about (telephony.services.conference).
CONFERENCE_EVENTS = ["start", "end", "join", "leave", "mute", "hold", "modify"]


def validate_identity(identity: str) -> str:
    """Return `identity` if Twilio accepts it as a Voice client name, else raise ValueError."""
    if not IDENTITY_RE.fullmatch(identity or ""):
        raise ValueError(
            f"Invalid client identity {identity!r}: letters, digits and _ only, at most 121."
        )
    return identity


def voice_access_token(
    *,
    account_sid: str,
    api_key_sid: str,
    api_key_secret: str,
    twiml_app_sid: str,
    identity: str,
    ttl_seconds: int,
) -> str:
    """A signed JWT with a VoiceGrant: the browser may receive calls for `identity` and place
    calls through the TwiML App. Shared by the real and the simulated provider."""
    validate_identity(identity)
    if not 0 < ttl_seconds <= MAX_TOKEN_TTL_SECONDS:
        raise ValueError(f"Token lifetime must be 1 s to 24 h, not {ttl_seconds} s.")
    token = AccessToken(
        account_sid, api_key_sid, api_key_secret, identity=identity, ttl=ttl_seconds
    )
    token.add_grant(VoiceGrant(incoming_allow=True, outgoing_application_sid=twiml_app_sid or None))
    jwt = token.to_jwt()
    return jwt.decode() if isinstance(jwt, bytes) else jwt


class TwilioVoiceProvider:
    """`VoiceProvider` backed by a twilio `Client` (account SID + auth token)."""

    def __init__(self, *, http_client: HttpClient | None = None) -> None:
        # `http_client` is the SDK's own seam for its transport; tests pass a recording one.
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client
        )

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
        options: dict = {}
        if machine_detection:
            options["machine_detection"] = machine_detection
        call = self.client.calls.create(
            to=to,
            from_=from_,
            url=url,
            status_callback=status_callback,
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            timeout=timeout,
            record=record,
            **options,
        )
        return call.sid

    def update_call(
        self,
        *,
        call_sid: str,
        url: str | None = None,
        twiml: str | None = None,
        status: str | None = None,
    ) -> None:
        if sum(value is not None for value in (url, twiml, status)) != 1:
            raise ValueError("Give exactly one of url, twiml or status.")
        options: dict = {}
        if url is not None:
            options["url"] = url
        elif twiml is not None:
            options["twiml"] = twiml
        else:
            options["status"] = status
        self.client.calls(call_sid).update(**options)

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
        options: dict = {}
        if coaching and call_sid_to_coach:
            options.update(coaching=True, call_sid_to_coach=call_sid_to_coach)
        # The conference's own events (join, leave, mute, hold) go to our conference webhook.
        participant = self.client.conferences(conference).participants.create(
            from_=from_,
            to=to,
            label=label,
            muted=muted,
            timeout=timeout,
            start_conference_on_enter=True,
            end_conference_on_exit=False,
            conference_status_callback=status_callback,
            conference_status_callback_event=CONFERENCE_EVENTS,
            **options,
        )
        return participant.call_sid

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
        options = {
            name: value
            for name, value in (
                ("muted", muted),
                ("hold", hold),
                ("hold_url", hold_url),
                ("coaching", coaching),
                ("call_sid_to_coach", call_sid_to_coach),
            )
            if value is not None
        }
        if not options:
            raise ValueError("Nothing to change.")
        self.client.conferences(conference_sid).participants(call_sid).update(**options)

    def participant_delete(self, *, conference_sid: str, call_sid: str) -> None:
        self.client.conferences(conference_sid).participants(call_sid).delete()

    def access_token(self, *, identity: str, ttl_seconds: int = 3600) -> str:
        return voice_access_token(
            account_sid=settings.TWILIO_ACCOUNT_SID,
            api_key_sid=settings.TWILIO_API_KEY_SID,
            api_key_secret=settings.TWILIO_API_KEY_SECRET,
            twiml_app_sid=settings.TWILIO_TWIML_APP_SID,
            identity=identity,
            ttl_seconds=ttl_seconds,
        )
