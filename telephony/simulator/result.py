"""The transcript of a simulated call: every request, every response, everything heard."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Exchange:
    """One request the simulated Twilio made to the app, and the answer."""

    at: float
    kind: str  # "webhook", "status", "recording-status", "transcription", "child-status"
    method: str
    url: str
    params: dict[str, str]
    status: int
    body: str


@dataclass
class Step:
    """Something that happened on the call: a verb executed, a REST request honoured."""

    at: float
    kind: str  # "say", "play", "pause", "gather", "enqueue", "dial", "record", "rest", ...
    detail: dict = field(default_factory=dict)


_SHOWN_PARAMS = ("CallStatus", "Digits", "SpeechResult", "QueueResult", "DialCallStatus")


@dataclass
class CallResult:
    call_sid: str
    status: str = "ringing"  # the final CallStatus: completed, busy, no-answer, failed, ...
    duration: int = 0  # seconds from answer to end
    ended_by: str = ""  # "caller", "app" (Hangup, end of TwiML), "rest", "reject", "error"
    timeline: list[Exchange | Step] = field(default_factory=list)

    @property
    def exchanges(self) -> list[Exchange]:
        return [entry for entry in self.timeline if isinstance(entry, Exchange)]

    @property
    def steps(self) -> list[Step]:
        return [entry for entry in self.timeline if isinstance(entry, Step)]

    @property
    def heard(self) -> list[str]:
        """What the caller heard, in order: Say texts, and "[play <url>]" for audio."""
        out = []
        for step in self.steps:
            if step.kind == "say":
                out.append(step.detail["text"])
            elif step.kind == "play":
                out.append(f"[play {step.detail['url']}]")
        return out

    @property
    def urls(self) -> list[str]:
        return [exchange.url for exchange in self.exchanges]

    def exchanges_of(self, kind: str) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.kind == kind]

    def steps_of(self, kind: str) -> list[Step]:
        return [step for step in self.steps if step.kind == kind]

    def lines(self) -> list[str]:
        """A human-readable transcript, in the order things happened."""
        return [format_entry(entry) for entry in self.timeline]


def format_entry(entry: Exchange | Step) -> str:
    """One transcript line: a request and its status code, or what happened on the call."""
    if isinstance(entry, Exchange):
        shown = " ".join(
            f"{key}={entry.params[key]}" for key in _SHOWN_PARAMS if key in entry.params
        )
        return (
            f"{entry.at:7.1f}s {entry.method} {entry.url} -> {entry.status} [{entry.kind}] {shown}"
        ).rstrip()
    detail = " ".join(f"{key}={value!r}" for key, value in entry.detail.items())
    return f"{entry.at:7.1f}s   {entry.kind} {detail}".rstrip()
