"""A simulated Twilio call: posts signed webhooks, follows the TwiML it gets back.

One `SimulatedCall` is one call leg as Twilio would run it. It asks the app for TwiML (the
incoming-call webhook, then action URLs, wait URLs and redirects), executes the verbs against a
`CallScript` (what the caller presses, when they hang up, whether a dialled agent answers) on a
clock (simulated: instant; real: for a running server), sends status callbacks, and acts on REST
requests the app made through `SimulatedVoiceProvider` (a redirect or hang-up) whenever the call
waits. Everything is recorded in a `CallResult`.

Simplifications, on purpose: one caller per queue (QueuePosition 1), no audio, the first noun of
a `<Dial>` decides the outcome, `<Number url>` / `<Client url>` whisper TwiML is not run, and
transcriptions are delivered right after the recording instead of minutes later.
"""

from __future__ import annotations

import hashlib
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable

from django.conf import settings

from telephony.simulator import rest_log, softphone
from telephony.simulator.clock import SimClock
from telephony.simulator.params import call_params, new_sid, rfc2822
from telephony.simulator.result import CallResult, Exchange, Step
from telephony.simulator.script import CallScript, DialOutcome
from telephony.simulator.transport import Transport, TransportResponse, signed_request

VOICE_PATH = "/hooks/twilio/voice/"
STATUS_PATH = "/hooks/twilio/voice/status/"
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
DEFAULT_HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
# The Voice JS SDK and Twilio's own error message when the app's answer is unusable.
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."


class _CallEnded(Exception):
    """The call is over: `by` is "caller", "app", "rest", "reject", "callee"
    (an outbound call not answered) or "error"."""

    def __init__(self, by: str, status: str = "completed") -> None:
        super().__init__(by)
        self.by = by
        self.status = status


class _Goto(Exception):
    """Continue with the TwiML at `url` (requested with `params` added) or inline `twiml`."""

    def __init__(
        self,
        url: str | None = None,
        method: str = "POST",
        params: dict[str, str] | None = None,
        twiml: str | None = None,
    ) -> None:
        super().__init__(url or "inline TwiML")
        self.url = url
        self.method = (method or "POST").upper()
        self.params = params or {}
        self.twiml = twiml


class _RestRedirect(_Goto):
    """A redirect the app requested through the REST API (it leaves any queue or dial)."""


class _Leave(Exception):
    """`<Leave>` in a queue's wait TwiML."""


class SimulatedCall:
    """One call leg driven through the app's webhooks. Use `run()` once."""

    def __init__(
        self,
        *,
        transport: Transport,
        to: str,
        from_: str,
        script: CallScript | None = None,
        clock: SimClock | None = None,
        call_sid: str | None = None,
        direction: str = "inbound",
        public_base_url: str | None = None,
        voice_url: str | None = None,
        status_callback_url: str | None = None,
        status_events: tuple[str, ...] | None = None,
        auth_token: str | None = None,
        account_sid: str | None = None,
        poll_seconds: float = 1.0,
        max_documents: int = 200,
        extra_params: dict[str, str] | None = None,
        observer: Callable[[Exchange | Step], None] | None = None,
    ) -> None:
        base = (public_base_url or settings.PUBLIC_BASE_URL).rstrip("/")
        self.transport = transport
        self.to = to
        self.from_ = from_
        self.script = script or CallScript()
        self.clock = clock or SimClock()
        self.call_sid = call_sid or new_sid("CA")
        self.direction = direction
        self.voice_url = voice_url or base + VOICE_PATH
        # None: the number's console status callback; "" sends none (a call created without one).
        self.status_callback_url = (
            base + STATUS_PATH if status_callback_url is None else status_callback_url
        )
        # A number's console status callback only hears `completed`; more events exist only
        # when asked for (create_call asks for all four, and tests may).
        if status_events is None:
            status_events = ("completed",) if direction == "inbound" else STATUS_EVENTS
        self.status_events = status_events
        self.auth_token = auth_token or settings.TWILIO_WEBHOOK_AUTH_TOKEN
        self.account_sid = account_sid or settings.TWILIO_EFFECTIVE_ACCOUNT_SID
        self.poll_seconds = poll_seconds
        self.max_documents = max_documents
        self.extra_params = extra_params or {}
        self.observer = observer  # sees each transcript entry as it happens (simulate_call)
        self.call_status = "ringing"
        self.answered_at: float | None = None
        self.sequence = 0
        self.current_url = self.voice_url
        self.result = CallResult(call_sid=self.call_sid)

    # --- running the call ---------------------------------------------------------------

    def run(self) -> CallResult:
        """Ring the app, follow its TwiML until the call ends, send the final callback."""
        try:
            self._status_callback("initiated")
            self._status_callback("ringing")
            if self.direction != "inbound":
                # The dialled person decides: pick up, or let it ring out / be busy.
                self._wait(self.script.ring_seconds)
                if self.script.answer != "answered":
                    raise _CallEnded("callee", self.script.answer)
                self._answer()
            goto = _Goto(self.voice_url, "POST")
            for _ in range(self.max_documents):
                document = self._load(goto, kind="webhook")
                try:
                    self._run_document(document)
                    raise _CallEnded("app")  # TwiML ran out: Twilio hangs up
                except _Goto as next_goto:
                    goto = next_goto
            self._step("error", reason=f"more than {self.max_documents} TwiML documents")
            raise _CallEnded("error")
        except _CallEnded as ended:
            self._finish(ended)
        return self.result

    def _load(self, goto: _Goto, *, kind: str) -> ET.Element:
        if goto.twiml is not None:
            return self._parse(goto.twiml, source="inline TwiML")
        url = urllib.parse.urljoin(self.current_url, goto.url)
        response = self._request(kind, url, goto.method, self._params(goto.params))
        if response.status != 200:
            self._step("error", reason=f"HTTP {response.status} from {url}")
            self._heard_error()
        self.current_url = url
        return self._parse(response.body, source=url)

    def _parse(self, body: str, *, source: str) -> ET.Element:
        try:
            root = ET.fromstring(body)  # noqa: S314 - our own app's TwiML, not untrusted input
        except ET.ParseError:
            root = None
        if root is None or root.tag != "Response":
            self._step("error", reason=f"not TwiML: {source}")
            self._heard_error()
        return root

    def _heard_error(self) -> None:
        self._step("say", text=APPLICATION_ERROR)
        raise _CallEnded("error")

    def _run_document(self, root: ET.Element, *, in_queue: bool = False) -> None:
        for verb in root:
            if self.answered_at is None and verb.tag != "Reject":
                self._answer()
            handler: Callable | None = getattr(self, f"_verb_{verb.tag.lower()}", None)
            if handler is None:
                self._step("unsupported", verb=verb.tag)
                continue
            handler(verb, in_queue=in_queue)

    def _answer(self) -> None:
        self.answered_at = self.clock.now()
        self.call_status = "in-progress"
        self._status_callback("answered")

    def _finish(self, ended: _CallEnded) -> None:
        if ended.by in ("reject", "callee"):
            final = ended.status
        elif self.answered_at is None:
            final = "canceled" if ended.by == "caller" else "no-answer"
        else:
            final = "completed"
        self.call_status = final
        self.result.status = final
        self.result.ended_by = ended.by
        if self.answered_at is not None:
            self.result.duration = int(self.clock.now() - self.answered_at)
        self._step("hangup", by=ended.by, status=final)
        self._status_callback("completed")

    # --- time, hang-ups and REST requests --------------------------------------------------

    def _wait(self, seconds: float) -> None:
        """Let `seconds` pass on the call. Raises when the caller hangs up meanwhile or the app
        redirects / ends the call through the REST API (checked every `poll_seconds`)."""
        end = self.clock.now() + max(0.0, seconds)
        hangup_at = self.script.hangup_after
        while True:
            if self.script.on_wait is not None:
                self.script.on_wait(self)
            self._check_rest()
            now = self.clock.now()
            if hangup_at is not None and now >= hangup_at:
                self._step("caller-hangs-up")
                raise _CallEnded("caller")
            if now >= end:
                return
            step = min(self.poll_seconds, end - now)
            if hangup_at is not None:
                step = min(step, hangup_at - now)
            self.clock.advance(step)

    def _check_rest(self) -> None:
        request = rest_log.pop_pending(self.call_sid)
        if request is None:
            return
        shown = {key: request.get(key) for key in ("url", "twiml", "status") if request.get(key)}
        self._step("rest", **shown)
        if request.get("status") in ("completed", "canceled"):
            raise _CallEnded("rest")
        if request.get("url"):
            raise _RestRedirect(request["url"], "POST")
        if request.get("twiml"):
            raise _RestRedirect(twiml=request["twiml"])

    # --- verbs -----------------------------------------------------------------------------

    def _verb_say(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        text = " ".join((verb.text or "").split())
        loops = _int(verb.get("loop"), 1)
        self._step("say", text=text, language=verb.get("language", ""), voice=verb.get("voice", ""))
        seconds = max(1, round(0.4 * len(text.split())))  # ~150 words a minute
        self._wait(seconds * (loops or 10))

    def _verb_play(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        url = (verb.text or "").strip()
        loops = _int(verb.get("loop"), 1)
        if url:
            self._step("play", url=url)
            self._wait(self.script.play_seconds * (loops or 10))
        elif verb.get("digits"):
            self._step("play", url=f"digits:{verb.get('digits')}")

    def _verb_pause(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        length = _int(verb.get("length"), 1)
        self._step("pause", length=length)
        self._wait(length)

    def _verb_redirect(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        url = (verb.text or "").strip()
        self._step("redirect", url=url)
        raise _Goto(url, verb.get("method", "POST"))

    def _verb_hangup(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        raise _CallEnded("app")

    def _verb_reject(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        reason = verb.get("reason", "rejected")
        self._step("reject", reason=reason)
        raise _CallEnded("reject", "busy" if reason == "busy" else "no-answer")

    def _verb_leave(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        if not in_queue:
            self._step("unsupported", verb="Leave", reason="not in a queue")
            return
        self._step("leave")
        raise _Leave

    def _verb_gather(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        inputs = verb.get("input", "dtmf").split()
        action = verb.get("action") or self.current_url
        method = verb.get("method", "POST")
        for nested in verb:
            if nested.tag in ("Say", "Play", "Pause"):
                getattr(self, f"_verb_{nested.tag.lower()}")(nested)
        given = self.script.next_input(dtmf="dtmf" in inputs, speech="speech" in inputs)
        if given is None:
            self._step("gather", input=None)
            self._wait(_int(verb.get("timeout"), 5))
            if verb.get("actionOnEmptyResult", "false") == "true":
                raise _Goto(action, method, {"Digits": ""})
            return
        self._wait(self.script.press_delay)
        kind, value = given
        if kind == "digits":
            finish = verb.get("finishOnKey", "#")
            if finish and value.endswith(finish):
                value = value[: -len(finish)]
            if verb.get("numDigits"):
                value = value[: _int(verb.get("numDigits"), len(value))]
            self._step("gather", input=value)
            raise _Goto(action, method, {"Digits": value})
        self._step("gather", input=value, speech=True)
        raise _Goto(action, method, {"SpeechResult": value, "Confidence": "0.92"})

    def _verb_enqueue(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        if in_queue:
            self._step("unsupported", verb="Enqueue", reason="already in a queue")
            return
        name = (verb.get("name") or verb.text or "").strip()
        queue_sid = "QU" + hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
        wait_url = verb.get("waitUrl")
        entered = self.clock.now()
        self._step("enqueue", queue=name)

        def queue_params() -> dict[str, str]:
            waited = str(int(self.clock.now() - entered))
            return {
                "QueueSid": queue_sid,
                "QueuePosition": "1",
                "QueueTime": waited,
                "AvgQueueTime": waited,
                "CurrentQueueSize": "1",
                "MaxQueueSize": "100",
            }

        def post_action(result: str) -> None:
            if verb.get("action"):
                params = {"QueueResult": result, "QueueSid": queue_sid}
                params["QueueTime"] = str(int(self.clock.now() - entered))
                url = urllib.parse.urljoin(self.current_url, verb.get("action"))
                self._request("webhook", url, verb.get("method", "POST"), self._params(params))

        pending: _Goto | None = None
        while True:
            before = self.clock.now()
            try:
                if wait_url or pending:
                    goto = pending or _Goto(wait_url, verb.get("waitUrlMethod", "POST"))
                    goto.params = {**queue_params(), **goto.params}
                    pending = None
                    self._run_document(self._load(goto, kind="wait"), in_queue=True)
                else:
                    self._step("play", url=DEFAULT_HOLD_MUSIC)
                    self._wait(self.script.play_seconds)
            except _RestRedirect:
                # Dequeued by the REST API: Twilio requests the action at once, then follows
                # the redirect (the action's answer is not executed).
                self._step("dequeue", result="redirected")
                post_action("redirected")
                raise
            except _Goto as goto:
                pending = goto  # Redirect / Gather in the wait TwiML: still waiting
                continue
            except _Leave:
                break
            except _CallEnded:
                self._step("dequeue", result="hangup")
                post_action("hangup")
                raise
            if self.clock.now() == before:
                self._wait(1)  # an empty wait document must not spin
        self._step("dequeue", result="leave")
        if verb.get("action"):
            params = {"QueueResult": "leave", "QueueSid": queue_sid}
            params["QueueTime"] = str(int(self.clock.now() - entered))
            raise _Goto(verb.get("action"), verb.get("method", "POST"), params)

    def _verb_dial(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        nouns = [el for el in verb if el.tag in ("Number", "Client", "Conference", "Queue", "Sip")]
        if not nouns and (verb.text or "").strip():
            nouns = [ET.Element("Number")]
            nouns[0].text = verb.text.strip()
        if not nouns:
            self._step("unsupported", verb="Dial", reason="nothing to dial")
            return
        noun = nouns[0]
        if noun.tag == "Conference" and self.script.conference_rooms:
            self._dial_conference(verb, noun)
            return
        target = _noun_target(noun)
        timeout = _int(verb.get("timeout"), 30)
        outcome: DialOutcome = self.script.next_dial_outcome()
        child = _ChildLeg(self, noun, target, caller_id=verb.get("callerId") or self.from_)
        self._step("dial", noun=noun.tag, target=target, timeout=timeout)
        child.status("initiated", "initiated")
        in_browser = outcome.status == "browser" and noun.tag == "Client"
        if outcome.status == "browser" and not in_browser:  # only browsers have softphones
            outcome = DialOutcome("answered", self.script.ring_seconds, self.script.talk_seconds)
        if in_browser:
            softphone.leg_announce(
                identity=target,
                leg_sid=child.sid,
                call_sid=self.call_sid,
                from_=self.from_,
                state="ringing",
            )
        bridged_at: float | None = None
        talk = 0
        try:
            if in_browser:
                child.status("ringing", "ringing")
                dial_status = self._ring_browser(child.sid, timeout)
            else:
                dial_status = self._ring_scripted(outcome, timeout, child)
            if dial_status == "answered":
                child.status("answered", "in-progress")
                self._step("bridged", target=target)
                if in_browser:
                    softphone.leg_announce(
                        identity=target,
                        leg_sid=child.sid,
                        call_sid=self.call_sid,
                        from_=self.from_,
                        state="in-progress",
                    )
                bridged_at = self.clock.now()
                limit = _int(verb.get("timeLimit"), 14400)
                if in_browser:
                    self._talk_browser(child.sid, limit)
                else:
                    self._wait(min(outcome.talk_seconds, limit))
                talk = int(self.clock.now() - bridged_at)
                self._step("party-hangs-up", target=target, talk=talk)
                child.status("completed", "completed", duration=talk)
                self._dial_recording(verb, talk)
                dial_status = "completed"
            else:
                child.status("completed", dial_status)
        except (_CallEnded, _RestRedirect) as interrupted:
            if bridged_at is None:
                final, talk = "canceled", 0
                child.status("completed", "canceled")
            else:
                final, talk = "completed", int(self.clock.now() - bridged_at)
                child.status("completed", "completed", duration=talk)
                self._dial_recording(verb, talk)
            if isinstance(interrupted, _CallEnded) and interrupted.by == "caller":
                self._post_dial_action(verb, _dial_params(child.sid, final, talk))
            raise
        finally:
            if in_browser:
                softphone.leg_remove(identity=target, leg_sid=child.sid)
        if verb.get("action"):
            raise _Goto(
                verb.get("action"),
                verb.get("method", "POST"),
                _dial_params(child.sid, dial_status, talk),
            )

    def _dial_conference(self, verb: ET.Element, noun: ET.Element) -> None:
        """Join the simulated conference room and stay until removed (participant delete, the
        room ending); a hang-up or a REST redirect takes the leg out of the room first."""
        from telephony.simulator.conference import ConferenceSimulator, room_state

        name = (noun.text or "").strip()
        rooms = ConferenceSimulator(transport=self.transport, auth_token=self.auth_token)
        self._step("conference", name=name)
        rooms.join(
            name=name,
            call_sid=self.call_sid,
            status_callback=noun.get("statusCallback") or "",
            label=noun.get("participantLabel") or "",
            muted=noun.get("muted") == "true",
            end_on_exit=noun.get("endConferenceOnExit") == "true",
        )
        joined_at = self.clock.now()
        try:
            while True:
                room = room_state(name) or {}
                if room.get("ended") or self.call_sid not in room.get("participants", {}):
                    break
                self._wait(self.poll_seconds)
        except (_CallEnded, _RestRedirect) as interrupted:
            rooms.leave(name=name, call_sid=self.call_sid)
            talk = int(self.clock.now() - joined_at)
            if isinstance(interrupted, _CallEnded) and interrupted.by == "caller":
                self._post_dial_action(verb, _dial_params(self.call_sid, "completed", talk))
            raise
        talk = int(self.clock.now() - joined_at)
        self._step("conference-left", name=name, talk=talk)
        if verb.get("action"):
            raise _Goto(
                verb.get("action"),
                verb.get("method", "POST"),
                _dial_params(self.call_sid, "completed", talk),
            )

    def _ring_scripted(self, outcome: DialOutcome, timeout: int, child: _ChildLeg) -> str:
        """Ring as the script says; returns "answered" or the DialCallStatus of a failure."""
        if outcome.status in ("answered", "no-answer"):
            child.status("ringing", "ringing")
        if outcome.status == "answered" and outcome.ring_seconds <= timeout:
            self._wait(outcome.ring_seconds)
            return "answered"
        if outcome.status in ("busy", "failed"):
            self._wait(min(outcome.ring_seconds, 2.0))
            return outcome.status
        self._wait(timeout)
        return "no-answer"

    def _ring_browser(self, leg_sid: str, timeout: int) -> str:
        """Ring the agent's browser until they accept or reject it, or the timeout."""
        for _ in range(max(1, timeout)):
            self._wait(1)
            decision = softphone.pop_decision(leg_sid)
            if decision == "accept":
                return "answered"
            if decision == "reject":
                return "busy"
        return "no-answer"

    def _talk_browser(self, leg_sid: str, limit: int) -> None:
        """Talk until the agent presses hang up (or the Dial's time limit)."""
        for _ in range(limit):
            self._wait(1)
            if softphone.pop_decision(leg_sid) == "hangup":
                return

    def _dial_recording(self, verb: ET.Element, seconds: int) -> None:
        """A bridged `<Dial record="record-from-answer...">` ended: the recording is reported
        to its `recordingStatusCallback` (two channels for the `-dual` modes)."""
        mode = verb.get("record", "do-not-record")
        if not mode.startswith("record-from-") or seconds <= 0:
            return
        sid = new_sid("RE")
        self._step("dial-recording", seconds=seconds, mode=mode)
        if not verb.get("recordingStatusCallback"):
            return
        params = {
            "AccountSid": self.account_sid,
            "CallSid": self.call_sid,
            "RecordingSid": sid,
            "RecordingUrl": (
                f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"
            ),
            "RecordingDuration": str(seconds),
            "RecordingStatus": "completed",
            "RecordingChannels": "2" if mode.endswith("-dual") else "1",
            "RecordingSource": "DialVerb",
            "RecordingStartTime": rfc2822(self.clock.datetime()),
        }
        url = urllib.parse.urljoin(self.current_url, verb.get("recordingStatusCallback"))
        method = verb.get("recordingStatusCallbackMethod", "POST")
        self._request("recording-status", url, method, params)

    def _post_dial_action(self, verb: ET.Element, params: dict[str, str]) -> None:
        """The caller hung up during the Dial: Twilio still requests the action (so the app
        learns the outcome), but the call is over and the answer is not executed."""
        if verb.get("action"):
            url = urllib.parse.urljoin(self.current_url, verb.get("action"))
            self._request("webhook", url, verb.get("method", "POST"), self._params(params))

    def _verb_record(self, verb: ET.Element, *, in_queue: bool = False) -> None:
        action = verb.get("action") or self.current_url
        method = verb.get("method", "POST")
        if verb.get("playBeep", "true") == "true":
            self._step("beep")
        length = min(self.script.recording_seconds, _int(verb.get("maxLength"), 3600))
        sid = new_sid("RE")
        started = self.clock.now()
        hung_up: _CallEnded | None = None
        try:
            self._wait(length)
        except _CallEnded as ended:
            if ended.by != "caller":
                raise
            hung_up = ended
        duration = int(self.clock.now() - started)
        self._step("record", seconds=duration)
        if duration == 0:
            if hung_up:
                raise hung_up
            return  # nothing recorded: Twilio moves on to the next verb
        recording_url = (
            f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"
        )
        recording = {
            "RecordingSid": sid,
            "RecordingUrl": recording_url,
            "RecordingDuration": str(duration),
        }
        if verb.get("recordingStatusCallback"):
            params = {
                **recording,
                "AccountSid": self.account_sid,
                "CallSid": self.call_sid,
                "RecordingStatus": "completed",
                "RecordingChannels": "1",
                "RecordingSource": "RecordVerb",
                "RecordingStartTime": rfc2822(self.clock.datetime()),
            }
            url = urllib.parse.urljoin(self.current_url, verb.get("recordingStatusCallback"))
            method_cb = verb.get("recordingStatusCallbackMethod", "POST")
            self._request("recording-status", url, method_cb, params)
        transcribe_url = verb.get("transcribeCallback")
        if transcribe_url and self.script.transcription is not None:
            params = {
                **self._params(recording),
                "TranscriptionSid": new_sid("TR"),
                "TranscriptionText": self.script.transcription,
                "TranscriptionStatus": "completed",
                "TranscriptionType": "fast",
            }
            url = urllib.parse.urljoin(self.current_url, transcribe_url)
            self._request("transcription", url, "POST", params)
        if hung_up:
            url = urllib.parse.urljoin(self.current_url, action)
            self._request("webhook", url, method, self._params({**recording, "Digits": "hangup"}))
            raise hung_up
        raise _Goto(action, method, recording)

    # --- requests to the app ---------------------------------------------------------------

    def _params(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        params = call_params(
            call_sid=self.call_sid,
            account_sid=self.account_sid,
            from_=self.from_,
            to=self.to,
            status=self.call_status,
            direction=self.direction,
        )
        return {**params, **self.extra_params, **(extra or {})}

    def _request(
        self, kind: str, url: str, method: str, params: dict[str, str]
    ) -> TransportResponse:
        method = (method or "POST").upper()
        signed_url, body, headers = signed_request(
            method=method, url=url, params=params, auth_token=self.auth_token
        )
        response = self.transport.send(method=method, url=signed_url, params=body, headers=headers)
        self._record(
            Exchange(
                at=self.clock.now(),
                kind=kind,
                method=method,
                url=url,
                params=params,
                status=response.status,
                body=response.body,
            )
        )
        return response

    def _status_callback(self, event: str) -> None:
        if event not in self.status_events or not self.status_callback_url:
            return
        status = {"initiated": "initiated", "ringing": "ringing"}.get(event, self.call_status)
        params = self._params(
            {
                "CallStatus": status,
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(self.sequence),
                "Timestamp": rfc2822(self.clock.datetime()),
            }
        )
        if event == "completed":
            params["CallDuration"] = str(self.result.duration)
            params["Duration"] = str((self.result.duration + 59) // 60)
        self.sequence += 1
        self._request("status", self.status_callback_url, "POST", params)

    def _step(self, kind: str, **detail) -> None:
        self._record(Step(at=self.clock.now(), kind=kind, detail=detail))

    def _record(self, entry: Exchange | Step) -> None:
        self.result.timeline.append(entry)
        if self.observer is not None:
            self.observer(entry)


class _ChildLeg:
    """The dialled party's call leg: its own sid and (if the noun asks) status callbacks."""

    def __init__(self, call: SimulatedCall, noun: ET.Element, target: str, *, caller_id: str):
        self.call = call
        self.sid = new_sid("CA")
        self.url = noun.get("statusCallback")
        self.events = noun.get("statusCallbackEvent", "completed").replace(",", " ").split()
        self.method = noun.get("statusCallbackMethod", "POST")
        self.to = f"client:{target}" if noun.tag == "Client" else target
        self.caller_id = caller_id
        self.sequence = 0

    def status(self, event: str, call_status: str, *, duration: int = 0) -> None:
        if not self.url or event not in self.events:
            return
        params = call_params(
            call_sid=self.sid,
            account_sid=self.call.account_sid,
            from_=self.caller_id,
            to=self.to,
            status=call_status,
            direction="outbound-dial",
            parent_call_sid=self.call.call_sid,
        )
        params.update(
            CallbackSource="call-progress-events",
            SequenceNumber=str(self.sequence),
            Timestamp=rfc2822(self.call.clock.datetime()),
        )
        if event == "completed":
            params["CallDuration"] = str(duration)
        self.sequence += 1
        url = urllib.parse.urljoin(self.call.current_url, self.url)
        self.call._request("child-status", url, self.method, params)


def _noun_target(noun: ET.Element) -> str:
    identity = noun.find("Identity")
    if identity is not None and identity.text:
        return identity.text.strip()
    return (noun.text or "").strip()


def _dial_params(child_sid: str, status: str, talk: int) -> dict[str, str]:
    params = {
        "DialCallStatus": status,
        "DialCallSid": child_sid,
        "DialBridged": "true" if status == "completed" else "false",
    }
    if status == "completed":
        params["DialCallDuration"] = str(talk)
    return params


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def drive_outbound_calls(
    *,
    transport: Transport,
    script_for: Callable[[dict], CallScript] | None = None,
    clock: SimClock | None = None,
) -> list[CallResult]:
    """Run every call the app created with `SimulatedVoiceProvider.create_call` and that no one
    has driven yet; `script_for(request)` says how each callee behaves (default: answers)."""
    results = []
    while (request := rest_log.pop_outbound()) is not None:
        script = script_for(request) if script_for else CallScript()
        extra = {"AnsweredBy": script.answered_by} if request.get("machine_detection") else {}
        call = SimulatedCall(
            transport=transport,
            to=request["to"],
            from_=request["from"],
            script=script,
            clock=clock,
            call_sid=request["call_sid"],
            direction="outbound-api",
            voice_url=request["url"],
            status_callback_url=request.get("status_callback") or "",
            extra_params=extra,
        )
        results.append(call.run())
    return results
