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
    speech: Speech, *, position: int | None, wait_minutes: int | None, music_url: str = ""
) -> str:
    """What a waiting caller hears: position, expected wait, then music (or a pause)."""
    response = VoiceResponse()
    if position:
        _say(response, speech, speech.text("position", position=position))
    if wait_minutes is not None:
        text = (
            speech.text("estimate_one")
            if wait_minutes <= 1
            else speech.text("estimate", minutes=wait_minutes)
        )
        _say(response, speech, text)
    if music_url:
        response.play(music_url)
    else:
        response.pause(length=20)
    return str(response)


def ring_agent(*, identity: str, timeout: int, action_url: str, leg_status_url: str) -> str:
    """Ring one agent's browser softphone; the Dial action reports how it went."""
    response = VoiceResponse()
    dial = response.dial(action=action_url, method="POST", timeout=timeout)
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
