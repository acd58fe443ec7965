"""What the simulated caller (and the parties they dial) do: a `CallScript`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from telephony.simulator.call import SimulatedCall

# "browser": a dialled <Client> rings the agent's softphone in simulator mode, which decides.
DialStatus = Literal["answered", "no-answer", "busy", "failed", "browser"]


@dataclass(frozen=True)
class DialOutcome:
    """How a dialled party (number, browser client, conference, queue) responds."""

    status: DialStatus = "answered"
    ring_seconds: float = 3.0
    talk_seconds: float = 30.0


@dataclass
class CallScript:
    """The caller's behaviour, in simulated seconds from the moment the call starts.

    * `presses` — one entry per `<Gather>` in order; "" (or running out) means silence, so the
      Gather times out. `speech` does the same for speech input (used when no press is left).
    * `hangup_after` — the caller hangs up at this second (None: stays until the app ends it).
    * `agent_answers` / `dial_outcomes` — each `<Dial>` takes the next outcome from
      `dial_outcomes`; when none are left: answered after `ring_seconds` if `agent_answers`, else
      no answer (rings until Dial's timeout). `agent_in_browser`: dialled clients are left to
      the agent's softphone (`telephony.simulator.softphone`).
    * `answer` — for calls *to* the script's party (outbound `create_call`): answered, busy, ...
    * `on_wait` — called with the `SimulatedCall` each time it waits (queue rounds, pauses,
      ringing), e.g. to run a Celery task in the test process, as a worker would meanwhile.
    * `conference_rooms` — a `<Dial><Conference>` joins the simulated room
      (`telephony.simulator.conference`) and stays until it is removed, the room ends, the
      caller hangs up or the app redirects; off, the noun is dialled like any other party.
    """

    presses: list[str] = field(default_factory=list)
    speech: list[str] = field(default_factory=list)
    hangup_after: float | None = None
    agent_answers: bool = True
    agent_in_browser: bool = False
    ring_seconds: float = 3.0
    talk_seconds: float = 30.0
    dial_outcomes: list[DialOutcome] = field(default_factory=list)
    press_delay: float = 1.0
    recording_seconds: float = 8.0
    transcription: str | None = "Hello, please call me back."
    play_seconds: float = 5.0
    answer: DialStatus = "answered"
    answered_by: str = "human"
    on_wait: Callable[[SimulatedCall], None] | None = None
    conference_rooms: bool = False

    def next_input(self, *, dtmf: bool, speech: bool) -> tuple[str, str] | None:
        """("digits", "12") / ("speech", "billing") for the next Gather, or None (silence)."""
        if dtmf and self.presses:
            digits = self.presses.pop(0)
            return ("digits", digits) if digits else None
        if speech and self.speech:
            said = self.speech.pop(0)
            return ("speech", said) if said else None
        return None

    def next_dial_outcome(self) -> DialOutcome:
        if self.dial_outcomes:
            return self.dial_outcomes.pop(0)
        if self.agent_in_browser:
            return DialOutcome("browser")
        if self.agent_answers:
            return DialOutcome("answered", self.ring_seconds, self.talk_seconds)
        return DialOutcome("no-answer", 3600, 0)
