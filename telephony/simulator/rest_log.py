"""The simulated Twilio's record of REST requests the app made, kept in Redis.

The app calls the provider from Celery workers or the web server; the simulated call may be
driven by another process (a test, `simulate_call`). Redis (settings.REDIS_URL) is what they
share, so each request is written there:

* ``<prefix>:twilio-sim:pending:<CallSid>`` — a list of requests not yet acted on, consumed
  (LPOP) by the simulated call while it waits (Enqueue, Pause, a ringing or bridged Dial);
* ``<prefix>:twilio-sim:log`` — every request ever made, newest last, capped at LOG_LIMIT;
* ``<prefix>:twilio-sim:outbound`` — calls created with `create_call`, waiting to be driven
  (`telephony.simulator.drive_outbound_calls`);
* ``<prefix>:twilio-sim:conference`` — participant requests (`participant_create|update|delete`)
  waiting for `telephony.simulator.conference.drive_conference_requests`;
* ``<prefix>:twilio-sim:room:<name>`` — a conference room: its sid, status callback, sequence
  counter and participants (`telephony.simulator.conference`).

Each entry is a JSON object: ``{"method": "update_call"|"create_call", "call_sid", "at"
(epoch seconds), "url", "twiml", "status", ...}``. Keys expire after a day.
"""

from __future__ import annotations

import json
import time
from functools import cache

import redis
from django.conf import settings

LOG_LIMIT = 10_000
KEY_TTL_SECONDS = 24 * 3600


@cache
def _redis_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def _redis() -> redis.Redis:
    return _redis_for(settings.REDIS_URL)


def _key(*parts: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "cc")
    return ":".join([prefix, "twilio-sim", *parts])


def record_request(entry: dict) -> dict:
    """Store a REST request: in the global log, and (updates) in the call's pending list,
    (creates) in the outbound list. Returns the stored entry (with `at`)."""
    entry = {"at": time.time(), **entry}
    data = json.dumps(entry)
    pipe = _redis().pipeline()
    pipe.rpush(_key("log"), data)
    pipe.ltrim(_key("log"), -LOG_LIMIT, -1)
    pipe.expire(_key("log"), KEY_TTL_SECONDS)
    if entry["method"] == "update_call":
        pending = _key("pending", entry["call_sid"])
        pipe.rpush(pending, data)
        pipe.expire(pending, KEY_TTL_SECONDS)
    elif entry["method"] == "create_call":
        pipe.rpush(_key("outbound"), data)
        pipe.expire(_key("outbound"), KEY_TTL_SECONDS)
    elif entry["method"].startswith("participant_"):
        pipe.rpush(_key("conference"), data)
        pipe.expire(_key("conference"), KEY_TTL_SECONDS)
    pipe.execute()
    return entry


def pop_pending(call_sid: str) -> dict | None:
    """The oldest REST request for `call_sid` not yet acted on (removing it), or None."""
    data = _redis().lpop(_key("pending", call_sid))
    return json.loads(data) if data else None


def pop_outbound() -> dict | None:
    """The oldest created call not yet driven by the simulator (removing it), or None."""
    data = _redis().lpop(_key("outbound"))
    return json.loads(data) if data else None


def pop_conference_request() -> dict | None:
    """The oldest participant request (create, update, delete) not yet acted on, or None."""
    data = _redis().lpop(_key("conference"))
    return json.loads(data) if data else None


def rest_log(*, call_sid: str | None = None) -> list[dict]:
    """Every recorded request, oldest first; only those for `call_sid` when given."""
    entries = [json.loads(item) for item in _redis().lrange(_key("log"), 0, -1)]
    if call_sid is not None:
        entries = [entry for entry in entries if entry.get("call_sid") == call_sid]
    return entries


def clear() -> None:
    """Forget every recorded request (tests start from a clean slate)."""
    client = _redis()
    keys = list(client.scan_iter(match=_key("*"), count=1000))
    if keys:
        client.delete(*keys)
