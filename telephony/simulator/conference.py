"""The simulated Twilio's conference rooms: participants and conference status callbacks.

A room is a JSON object in Redis (``<prefix>:twilio-sim:room:<friendly name>``) so the process
that made a participant request (a Celery worker, the web server) and the one driving the
simulation (a test, `simulate_call`) share it:

    {"sid": "CF…", "status_callback": url, "sequence": n, "ended": false,
     "participants": {CallSid: {"label", "muted", "hold", "coaching", "call_sid_to_coach",
                                "end_on_exit"}}}

Every change posts Twilio's conference status callback, signed, to the room's
`status_callback` (the first participant that names one sets it, as `conferenceStatusCallback`
does): `conference-start`, `participant-join`, `participant-mute` / `-unmute`, `-hold` /
`-unhold`, `participant-modify` (coaching changed), `participant-leave`, `conference-end`, each
with the room's next `SequenceNumber` (from 0) and a `Timestamp`.

`drive_conference_requests()` acts on the participant requests `SimulatedVoiceProvider` recorded
(create → the leg answers and joins, unless its `to` is in `no_answer`; update; delete → leave).
`room_join` / `room_leave` put a leg in or take it out directly — what a `<Dial><Conference>`
in the app's TwiML and the caller hanging up do.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime
from email.utils import format_datetime

from django.conf import settings

from telephony.simulator import rest_log
from telephony.simulator.params import new_sid
from telephony.simulator.transport import Transport, TransportResponse, signed_request

ACCOUNT_SID = "AC" + "5" * 32


def _room_key(name: str) -> str:
    return rest_log._key("room", name)


def room_state(name: str) -> dict | None:
    """The room named `name` as stored, or None when it never existed."""
    data = rest_log._redis().get(_room_key(name))
    return json.loads(data) if data else None


def _save(name: str, room: dict) -> None:
    rest_log._redis().set(_room_key(name), json.dumps(room), ex=rest_log.KEY_TTL_SECONDS)


def _room_by_sid(conference_sid: str) -> tuple[str, dict] | tuple[None, None]:
    client = rest_log._redis()
    for key in client.scan_iter(match=rest_log._key("room", "*"), count=1000):
        room = json.loads(client.get(key) or "{}")
        if room.get("sid") == conference_sid:
            return key.rsplit(":", 1)[-1], room
    return None, None


class ConferenceSimulator:
    """Posts the conference callbacks through `transport`, signed with `auth_token`."""

    def __init__(
        self,
        *,
        transport: Transport,
        auth_token: str | None = None,
        now: datetime | None = None,
    ) -> None:
        self.transport = transport
        self.auth_token = auth_token or settings.TWILIO_WEBHOOK_AUTH_TOKEN
        self.now = now
        self.responses: list[tuple[str, TransportResponse]] = []

    def _timestamp(self) -> str:
        return format_datetime(self.now or datetime.now(UTC))

    def _post(
        self, name: str, room: dict, event: str, call_sid: str | None = None
    ) -> TransportResponse | None:
        url = room.get("status_callback")
        params = {
            "AccountSid": ACCOUNT_SID,
            "ConferenceSid": room["sid"],
            "FriendlyName": name,
            "StatusCallbackEvent": event,
            "SequenceNumber": str(room["sequence"]),
            "Timestamp": self._timestamp(),
        }
        room["sequence"] += 1
        if call_sid is not None:
            leg = room["participants"][call_sid]
            params.update(
                CallSid=call_sid,
                ParticipantLabel=leg["label"],
                Muted=str(leg["muted"]).lower(),
                Hold=str(leg["hold"]).lower(),
                Coaching=str(leg["coaching"]).lower(),
                EndConferenceOnExit=str(leg["end_on_exit"]).lower(),
                StartConferenceOnEnter="true",
            )
            if leg["coaching"] and leg.get("call_sid_to_coach"):
                params["CallSidToCoach"] = leg["call_sid_to_coach"]
        if not url:
            return None
        signed_url, body, headers = signed_request(
            method="POST", url=url, params=params, auth_token=self.auth_token
        )
        response = self.transport.send(method="POST", url=signed_url, params=body, headers=headers)
        self.responses.append((event, response))
        return response

    # --- legs ------------------------------------------------------------------------------

    def join(
        self,
        *,
        name: str,
        call_sid: str,
        status_callback: str = "",
        label: str = "",
        muted: bool = False,
        coaching: bool = False,
        call_sid_to_coach: str | None = None,
        end_on_exit: bool = False,
    ) -> str:
        """Put a leg into the room (created on first use); returns the ConferenceSid."""
        room = room_state(name)
        if room is None or room.get("ended"):
            room = {"sid": new_sid("CF"), "status_callback": "", "sequence": 0}
            room.update(participants={}, ended=False)
        if status_callback and not room["status_callback"]:
            room["status_callback"] = status_callback
        first = not room["participants"]
        room["participants"][call_sid] = {
            "label": label,
            "muted": muted,
            "hold": False,
            "coaching": bool(coaching and call_sid_to_coach),
            "call_sid_to_coach": call_sid_to_coach,
            "end_on_exit": end_on_exit,
        }
        if first:
            self._post(name, room, "conference-start")
        self._post(name, room, "participant-join", call_sid)
        _save(name, room)
        return room["sid"]

    def leave(self, *, name: str, call_sid: str) -> None:
        """Take a leg out (hang-up or participant delete); the room ends when it empties or
        the leg had `endConferenceOnExit`."""
        room = room_state(name)
        if room is None or call_sid not in room["participants"]:
            return
        self._post(name, room, "participant-leave", call_sid)
        leg = room["participants"].pop(call_sid)
        if leg["end_on_exit"] or not room["participants"]:
            for other in list(room["participants"]):
                self._post(name, room, "participant-leave", other)
                room["participants"].pop(other)
            self._post(name, room, "conference-end")
            room["ended"] = True
        _save(name, room)

    def update(self, *, name: str, call_sid: str, changes: dict) -> None:
        room = room_state(name)
        if room is None or call_sid not in room["participants"]:
            return
        leg = room["participants"][call_sid]
        if changes.get("muted") is not None and changes["muted"] != leg["muted"]:
            leg["muted"] = changes["muted"]
            self._post(
                name, room, "participant-mute" if leg["muted"] else "participant-unmute", call_sid
            )
        if changes.get("hold") is not None and changes["hold"] != leg["hold"]:
            leg["hold"] = changes["hold"]
            self._post(
                name, room, "participant-hold" if leg["hold"] else "participant-unhold", call_sid
            )
        if changes.get("coaching") is not None:
            coached = changes.get("call_sid_to_coach") or leg.get("call_sid_to_coach")
            coaching = bool(changes["coaching"] and coached)
            if coaching != leg["coaching"] or coached != leg.get("call_sid_to_coach"):
                leg.update(coaching=coaching, call_sid_to_coach=coached if coaching else None)
                self._post(name, room, "participant-modify", call_sid)
        _save(name, room)

    # --- REST requests ---------------------------------------------------------------------

    def drive_requests(self, *, no_answer: Collection[str] = ()) -> int:
        """Act on every recorded participant request, oldest first; returns how many."""
        count = 0
        while (request := rest_log.pop_conference_request()) is not None:
            count += 1
            method = request["method"]
            if method == "participant_create":
                if request["to"] in no_answer:
                    continue
                self.join(
                    name=request["conference"],
                    call_sid=request["call_sid"],
                    status_callback=request.get("status_callback") or "",
                    label=request.get("label") or "",
                    muted=bool(request.get("muted")),
                    coaching=bool(request.get("coaching")),
                    call_sid_to_coach=request.get("call_sid_to_coach"),
                )
                continue
            name, _room = _room_by_sid(request["conference_sid"])
            if name is None:
                continue
            if method == "participant_delete":
                self.leave(name=name, call_sid=request["call_sid"])
            elif method == "participant_update":
                self.update(name=name, call_sid=request["call_sid"], changes=request)
        return count


def drive_conference_requests(
    *, transport: Transport, no_answer: Collection[str] = ()
) -> ConferenceSimulator:
    """Act on the participant requests the app made (see `ConferenceSimulator.drive_requests`)."""
    simulator = ConferenceSimulator(transport=transport)
    simulator.drive_requests(no_answer=no_answer)
    return simulator
