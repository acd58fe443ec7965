"""The simulated provider: records what the app asks of Twilio instead of sending it.

The simulated Twilio (`telephony.simulator`) acts on the records: a simulated call waiting in a
queue, a pause or a dial follows a redirect or hangs up, and created calls are driven by
`telephony.simulator.drive_outbound_calls`. Records live in Redis (`telephony.simulator.rest_log`)
so a Celery worker can make a request that a test or `simulate_call` process acts on.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from telephony.providers.twilio import voice_access_token
from telephony.simulator import rest_log
from telephony.simulator.params import new_sid

# The simulator's own API key; its tokens are real JWTs signed with the simulator's auth token.
SIMULATOR_API_KEY_SID = "SK" + "5" * 32
SIMULATOR_TWIML_APP_SID = "AP" + "5" * 32


def simulator_token_secret() -> str:
    """The key simulated access tokens are signed with (HS256 wants at least 32 bytes)."""
    seed = f"softphone:{settings.TWILIO_SIMULATOR_AUTH_TOKEN}".encode()
    return hashlib.sha256(seed).hexdigest()


class SimulatedVoiceProvider:
    """`VoiceProvider` that records each request for the simulated Twilio."""

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
        call_sid = new_sid("CA")
        rest_log.record_request(
            {
                "method": "create_call",
                "call_sid": call_sid,
                "to": to,
                "from": from_,
                "url": url,
                "status_callback": status_callback,
                "timeout": timeout,
                "record": record,
                "machine_detection": machine_detection,
            }
        )
        return call_sid

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
        rest_log.record_request(
            {
                "method": "update_call",
                "call_sid": call_sid,
                "url": url,
                "twiml": twiml,
                "status": status,
            }
        )

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
        call_sid = new_sid("CA")
        rest_log.record_request(
            {
                "method": "participant_create",
                "conference": conference,
                "call_sid": call_sid,
                "to": to,
                "from": from_,
                "label": label,
                "status_callback": status_callback,
                "muted": muted,
                "coaching": coaching,
                "call_sid_to_coach": call_sid_to_coach,
                "timeout": timeout,
            }
        )
        return call_sid

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
        rest_log.record_request(
            {
                "method": "participant_update",
                "conference_sid": conference_sid,
                "call_sid": call_sid,
                "muted": muted,
                "hold": hold,
                "hold_url": hold_url,
                "coaching": coaching,
                "call_sid_to_coach": call_sid_to_coach,
            }
        )

    def participant_delete(self, *, conference_sid: str, call_sid: str) -> None:
        rest_log.record_request(
            {"method": "participant_delete", "conference_sid": conference_sid, "call_sid": call_sid}
        )

    def access_token(self, *, identity: str, ttl_seconds: int = 3600) -> str:
        return voice_access_token(
            account_sid=settings.TWILIO_EFFECTIVE_ACCOUNT_SID,
            api_key_sid=SIMULATOR_API_KEY_SID,
            api_key_secret=simulator_token_secret(),
            twiml_app_sid=settings.TWILIO_TWIML_APP_SID or SIMULATOR_TWIML_APP_SID,
            identity=identity,
            ttl_seconds=ttl_seconds,
        )
