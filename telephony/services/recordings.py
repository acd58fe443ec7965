"""Voicemails and call recordings: rows keyed on the provider's RecordingSid."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from crm.events import publish
from crm.services.timeline import timeline_add
from telephony import twiml
from telephony.models import Call, CallOutcome, Recording, Voicemail
from telephony.services.calls import REF_TYPE
from telephony.services.common import call_for_sid, event_record, speech_for


def _voicemail_get_or_create(*, call: Call, recording_sid: str) -> tuple[Voicemail, bool]:
    voicemail = Voicemail.objects.select_for_update().filter(recording_sid=recording_sid).first()
    if voicemail is not None:
        return voicemail, False
    try:
        with transaction.atomic():
            voicemail = Voicemail.objects.create(
                tenant_id=call.tenant_id,
                call=call,
                contact_id=call.contact_id,
                recording_sid=recording_sid,
            )
    except IntegrityError:
        return Voicemail.objects.select_for_update().get(recording_sid=recording_sid), False
    return voicemail, True


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") and str(value).isdigit() else None


@transaction.atomic
def voicemail_receive(
    *, call_sid: str, call_id: int, recording_sid: str, recording_url: str, params: dict
) -> Voicemail:
    """A voicemail (Record action, recording status or transcription callback — whichever
    comes first creates the row, the others fill in). Announced once, when first seen."""
    call = call_for_sid(call_sid, call_id=call_id)
    voicemail, created = _voicemail_get_or_create(call=call, recording_sid=recording_sid)
    if recording_url:
        voicemail.recording_url = recording_url
    duration = _int(params.get("RecordingDuration"))
    if duration is not None:
        voicemail.duration_seconds = duration
    if params.get("RecordingStatus"):
        voicemail.recording_status = params["RecordingStatus"]
    if "TranscriptionText" in params or params.get("TranscriptionStatus"):
        voicemail.transcription = params.get("TranscriptionText", "")
        voicemail.transcription_status = params.get("TranscriptionStatus", "")
    voicemail.save()
    if created:
        Call.objects.filter(pk=call.pk).exclude(outcome=CallOutcome.ANSWERED).update(
            outcome=CallOutcome.VOICEMAIL
        )
        payload = {
            "id": voicemail.pk,
            "call_id": call.pk,
            "contact_id": call.contact_id,
            "from": call.from_number,
        }
        publish("voicemail.received", tenant_id=call.tenant_id, payload=payload)
        if call.contact_id is not None:
            timeline_add(
                tenant_id=call.tenant_id,
                contact=call.contact,
                kind="voicemail.received",
                summary=f"Voicemail from {call.from_number}",
                data=payload,
                ref_type=REF_TYPE,
                ref_id=call.pk,
            )
    return voicemail


def voicemail_action(
    *, call_sid: str, call_id: int, recording_sid: str, recording_url: str, params: dict
) -> str:
    """The Record verb's action: thank the caller (or note that nothing was recorded)."""
    call = call_for_sid(call_sid, call_id=call_id)
    speech = speech_for(call.tenant, call.menu)
    if not recording_sid:
        return twiml.say_hangup(speech, speech.text("no_message"))
    voicemail_receive(
        call_sid=call_sid,
        call_id=call_id,
        recording_sid=recording_sid,
        recording_url=recording_url,
        params=params,
    )
    return twiml.say_hangup(speech, speech.text("voicemail_thanks"))


@transaction.atomic
def recording_update(
    *, call_sid: str, call_id: int, recording_sid: str, params: dict
) -> Recording | None:
    """A recording status callback for a call recording (not a voicemail)."""
    call = call_for_sid(call_sid, call_id=call_id)
    status = params.get("RecordingStatus", "")
    if not event_record(
        key=f"recording:{recording_sid}:{status}",
        kind="recording",
        call=call,
        call_sid=call_sid,
        payload=params,
    ):
        return None
    recording, _ = Recording.objects.get_or_create(
        recording_sid=recording_sid, defaults={"tenant_id": call.tenant_id, "call": call}
    )
    recording.recording_url = params.get("RecordingUrl", recording.recording_url)
    recording.duration_seconds = _int(params.get("RecordingDuration")) or recording.duration_seconds
    recording.channels = _int(params.get("RecordingChannels")) or recording.channels
    recording.source = params.get("RecordingSource", recording.source)
    # "completed" and "absent" are final; a late "in-progress" does not undo them.
    if recording.status not in ("completed", "absent"):
        recording.status = status
    recording.save()
    return recording
