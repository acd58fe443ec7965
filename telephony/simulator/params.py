"""Twilio-shaped identifiers and the standard parameters of every Voice webhook."""

from __future__ import annotations

import secrets
from datetime import datetime
from email.utils import format_datetime

API_VERSION = "2010-04-01"

# Enough of the numbering plan for the countries the demo tenants live in.
_COUNTRY_PREFIXES = [
    ("+45", "DK"),
    ("+48", "PL"),
    ("+44", "GB"),
    ("+46", "SE"),
    ("+47", "NO"),
    ("+49", "DE"),
    ("+1", "US"),
]


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits (CA… calls, RE… recordings)."""
    return prefix + secrets.token_hex(16)


def country_of(number: str) -> str:
    for prefix, country in _COUNTRY_PREFIXES:
        if number.startswith(prefix):
            return country
    return ""


def rfc2822(moment: datetime) -> str:
    """Twilio's `Timestamp` format, e.g. 'Sun, 22 Nov 2026 01:24:27 +0000'."""
    return format_datetime(moment)


def call_params(
    *,
    call_sid: str,
    account_sid: str,
    from_: str,
    to: str,
    status: str,
    direction: str,
    parent_call_sid: str | None = None,
) -> dict[str, str]:
    """The parameters Twilio sends with every request about a call."""
    params = {
        "CallSid": call_sid,
        "AccountSid": account_sid,
        "From": from_,
        "To": to,
        "Caller": from_,
        "Called": to,
        "CallStatus": status,
        "Direction": direction,
        "ApiVersion": API_VERSION,
    }
    for side, number in (("From", from_), ("To", to)):
        params[f"{side}Country"] = country_of(number)
        params[f"{side}City"] = ""
        params[f"{side}State"] = ""
        params[f"{side}Zip"] = ""
    params["CallerCountry"] = params["FromCountry"]
    params["CalledCountry"] = params["ToCountry"]
    if parent_call_sid:
        params["ParentCallSid"] = parent_call_sid
    return params
