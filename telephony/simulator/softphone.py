"""The browser softphone's side of a simulated call (simulator mode: no audio, buttons).

When a simulated call dials `<Client>agent_7</Client>` with the browser deciding
(`DialOutcome("browser")`, `simulate_call --agent-in-browser`), the leg is announced in Redis for
that identity; the agent's browser lists it (`GET /telephony/simulator/calls/`) and answers,
rejects or hangs up (`POST /telephony/simulator/calls/<leg sid>/<action>/`). The simulated call
polls for the decision every simulated second, like it polls for REST requests.

Keys (under the cache KEY_PREFIX): ``twilio-sim:legs:<identity>`` — a hash of leg sid → JSON
``{"leg_sid", "call_sid", "from", "to", "state": "ringing"|"in-progress", "since"}``;
``twilio-sim:decision:<leg sid>`` — a list of actions not yet acted on.
"""

from __future__ import annotations

import json
import time

from telephony.simulator.rest_log import KEY_TTL_SECONDS, _key, _redis

ACTIONS = ("accept", "reject", "hangup")


def leg_announce(*, identity: str, leg_sid: str, call_sid: str, from_: str, state: str) -> None:
    """Show (or update) the leg on the identity's softphone."""
    leg = {
        "leg_sid": leg_sid,
        "call_sid": call_sid,
        "from": from_,
        "to": f"client:{identity}",
        "state": state,
        "since": time.time(),
    }
    key = _key("legs", identity)
    pipe = _redis().pipeline()
    pipe.hset(key, leg_sid, json.dumps(leg))
    pipe.expire(key, KEY_TTL_SECONDS)
    pipe.execute()


def leg_remove(*, identity: str, leg_sid: str) -> None:
    _redis().hdel(_key("legs", identity), leg_sid)
    _redis().delete(_key("decision", leg_sid))


def legs_for(identity: str) -> list[dict]:
    """The identity's ringing and connected legs, oldest first."""
    legs = [json.loads(value) for value in _redis().hvals(_key("legs", identity))]
    return sorted(legs, key=lambda leg: leg["since"])


def leg_decide(*, identity: str, leg_sid: str, action: str) -> bool:
    """The agent pressed a button. False when the leg is not theirs (or gone) or the action
    does not fit its state (accept/reject while ringing, hangup while connected)."""
    if action not in ACTIONS:
        return False
    data = _redis().hget(_key("legs", identity), leg_sid)
    if data is None:
        return False
    state = json.loads(data)["state"]
    if (action == "hangup") != (state == "in-progress"):
        return False
    key = _key("decision", leg_sid)
    pipe = _redis().pipeline()
    pipe.rpush(key, action)
    pipe.expire(key, KEY_TTL_SECONDS)
    pipe.execute()
    return True


def pop_decision(leg_sid: str) -> str | None:
    return _redis().lpop(_key("decision", leg_sid))
