"""TwiML answers, built with the twilio SDK (`twilio.twiml.voice_response`).

Pure functions of their arguments: no database, no clock. Every URL handed in is absolute
(`telephony.services.common.hook_url`), so Twilio — or the simulated Twilio — can follow it.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from telephony.services.prompts import Speech

EMPTY = str(VoiceResponse())


def _say(verb, speech: Speech, text: str) -> None:
    if text:
        verb.say(text, language=speech.say_language, voice=speech.voice)


def say_hangup(speech: Speech, *texts: str) -> str:
    """Say `texts` and hang up (unknown numbers, goodbyes, closed messages)."""
    response = VoiceResponse()
    for text in texts:
        _say(response, speech, text)
    response.hangup()
    return str(response)


def menu(
    speech: Speech,
    *,
    action_url: str,
    greeting_text: str,
    greeting_audio_url: str = "",
    timeout_seconds: int = 5,
    listen_for_speech: bool = False,
    prefix: str = "",
) -> str:
    """The menu's greeting inside a one-key `<Gather>`.

    Silence also reaches `action_url` (with no Digits): through `actionOnEmptyResult`, and
    through the `<Redirect>` after the Gather for clients that continue past it instead.
    """
    response = VoiceResponse()
    gather = response.gather(
        action=action_url,
        method="POST",
        num_digits=1,
        timeout=timeout_seconds,
        input="dtmf speech" if listen_for_speech else "dtmf",
        language=speech.say_language if listen_for_speech else None,
        action_on_empty_result=True,
    )
    _say(gather, speech, prefix)
    if greeting_audio_url:
        gather.play(greeting_audio_url)
    else:
        _say(gather, speech, greeting_text)
    response.redirect(action_url, method="POST")
    return str(response)


def enqueue(*, queue_name: str, wait_url: str, action_url: str) -> str:
    """Put the caller in the provider's queue `queue_name`; `wait_url` plays while waiting."""
    response = VoiceResponse()
    response.enqueue(
        queue_name, wait_url=wait_url, wait_url_method="POST", action=action_url, method="POST"
    )
    return str(response)


def queue_wait(
    speech: Speech,
    *,
    position: int | None,
    wait_minutes: int | None,
    music_url: str = "",
    callback_url: str = "",
) -> str:
    """What a waiting caller hears: position, expected wait, then music (or a pause).

    With `callback_url` the announcements sit in a one-key `<Gather>` that also offers a
    callback ("press 1 to be called back"); the key is posted to `callback_url`.
    """
    response = VoiceResponse()
    target = response
    if callback_url:
        target = response.gather(action=callback_url, method="POST", num_digits=1, timeout=1)
    if position:
        _say(target, speech, speech.text("position", position=position))
    if wait_minutes is not None:
        text = (
            speech.text("estimate_one")
            if wait_minutes <= 1
            else speech.text("estimate", minutes=wait_minutes)
        )
        _say(target, speech, text)
    if callback_url:
        _say(target, speech, speech.text("callback_offer"))
    if music_url:
        response.play(music_url)
    else:
        response.pause(length=20)
    return str(response)


def ring_agent(
    *,
    identity: str,
    timeout: int,
    action_url: str,
    leg_status_url: str,
    recording_status_url: str = "",
    announcement: str = "",
    speech: Speech | None = None,
) -> str:
    """Ring one agent's browser softphone; the Dial action reports how it went.

    With `recording_status_url` the bridged call is recorded (both parties, one channel
    each), after `announcement` is said to the caller."""
    response = VoiceResponse()
    if announcement and speech is not None:
        _say(response, speech, announcement)
    dial = response.dial(
        action=action_url, method="POST", timeout=timeout, **_record_args(recording_status_url)
    )
    dial.client(
        identity,
        status_callback=leg_status_url,
        status_callback_event="answered completed",
        status_callback_method="POST",
    )
    return str(response)


def dial_number(speech: Speech, *, number: str, caller_id: str, text: str = "") -> str:
    """Forward the caller to an external number, then end the call."""
    response = VoiceResponse()
    _say(response, speech, text)
    response.dial(number, caller_id=caller_id)
    response.hangup()
    return str(response)


def voicemail(
    speech: Speech,
    *,
    prompt: str,
    action_url: str,
    recording_status_url: str,
    transcription_url: str,
    max_length: int = 120,
) -> str:
    """Ask for a message and record it (transcribed where the provider offers it)."""
    response = VoiceResponse()
    _say(response, speech, prompt)
    response.record(
        action=action_url,
        method="POST",
        max_length=max_length,
        finish_on_key="#",
        play_beep=True,
        recording_status_callback=recording_status_url,
        recording_status_callback_method="POST",
        transcribe=True,
        transcribe_callback=transcription_url,
    )
    _say(response, speech, speech.text("no_message"))
    response.hangup()
    return str(response)


def leave() -> str:
    """Take the caller out of the provider's queue (its Enqueue action then gets "leave")."""
    response = VoiceResponse()
    response.leave()
    return str(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def _record_args(recording_status_url: str) -> dict[str, str]:
    if not recording_status_url:
        return {}
    return {
        "record": "record-from-answer-dual",
        "recording_status_callback": recording_status_url,
        "recording_status_callback_method": "POST",
        "recording_status_callback_event": "completed absent",
    }


def dial_customer(
    *,
    number: str,
    caller_id: str,
    action_url: str,
    leg_status_url: str,
    timeout: int = 30,
    recording_status_url: str = "",
    whisper_url: str = "",
) -> str:
    """The agent's leg of an outbound call: dial the customer showing the tenant's caller ID.

    `whisper_url`: TwiML the customer hears when they answer, before being connected (the
    recording notice)."""
    response = VoiceResponse()
    dial = response.dial(
        caller_id=caller_id,
        action=action_url,
        method="POST",
        timeout=timeout,
        **_record_args(recording_status_url),
    )
    dial.number(
        number,
        url=whisper_url or None,
        method="POST" if whisper_url else None,
        status_callback=leg_status_url,
        status_callback_event="answered completed",
        status_callback_method="POST",
    )
    return str(response)


def say_leave(speech: Speech, *texts: str) -> str:
    """Say `texts` to a waiting caller, then take them out of the queue."""
    response = VoiceResponse()
    for text in texts:
        _say(response, speech, text)
    response.leave()
    return str(response)


def hold(*, music_url: str, again_url: str) -> str:
    """A caller on hold: music in an endless loop, or 30 s of silence and ask again."""
    response = VoiceResponse()
    if music_url:
        response.play(music_url, loop=0)
    else:
        response.pause(length=30)
        response.redirect(again_url, method="POST")
    return str(response)


def redirect(url: str) -> str:
    """Continue with the TwiML at `url`."""
    response = VoiceResponse()
    response.redirect(url, method="POST")
    return str(response)


def say(speech: Speech, *texts: str) -> str:
    """Only say `texts` (e.g. a notice whispered to a dialled party before connecting)."""
    response = VoiceResponse()
    for text in texts:
        _say(response, speech, text)
    return str(response)


CONFERENCE_STATUS_EVENTS = "start end join leave mute hold modify"


def conference_join(
    *,
    name: str,
    label: str,
    status_url: str,
    end_on_exit: bool,
    action_url: str = "",
    wait_url: str = "",
) -> str:
    """Join the call's conference (the bridge of docs/decisions/003-conference-monitoring.md);
    its events go to `status_url`, labelled so a callback says whose leg it is."""
    response = VoiceResponse()
    dial = response.dial(action=action_url, method="POST") if action_url else response.dial()
    dial.conference(
        name,
        participant_label=label,
        start_conference_on_enter=True,
        end_conference_on_exit=end_on_exit,
        beep=False,
        status_callback=status_url,
        status_callback_event=CONFERENCE_STATUS_EVENTS,
        status_callback_method="POST",
        **({"wait_url": wait_url} if wait_url else {}),
    )
    return str(response)
