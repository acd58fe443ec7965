"""The IVR survey's webhook: Twilio posts each `<Gather>` result here.

Signed like every Twilio webhook (telephony's `twilio_webhook` gate: unsigned or forged
requests get 403 before anything is read); the CallSid must be the response's call's.
"""

from __future__ import annotations

from django.http import HttpRequest

from surveys.models import QueueSurvey, SurveyResponse
from surveys.services.ivr import ivr_survey_answer, ivr_survey_consent
from telephony.models import Call
from telephony.services import WebhookError
from telephony.webhooks import CALL_SID, BadRequest, twilio_webhook


@twilio_webhook
def ivr_answer(request: HttpRequest, response_id: int, step_key: str, attempt: int) -> str:
    call_sid = request.POST.get("CallSid", "").strip()
    if not CALL_SID.match(call_sid):
        raise BadRequest("missing or malformed CallSid")
    try:
        return ivr_survey_answer(
            response_id=response_id,
            call_sid=call_sid,
            step_key=step_key,
            attempt=attempt,
            digits=request.POST.get("Digits", ""),
        )
    except SurveyResponse.DoesNotExist:
        raise WebhookError(f"unknown survey response {response_id}", status=404) from None


@twilio_webhook
def ivr_consent(request: HttpRequest, call_id: int, setting_id: int) -> str:
    call_sid = request.POST.get("CallSid", "").strip()
    if not CALL_SID.match(call_sid):
        raise BadRequest("missing or malformed CallSid")
    try:
        return ivr_survey_consent(
            call_id=call_id,
            setting_id=setting_id,
            call_sid=call_sid,
            digits=request.POST.get("Digits", ""),
        )
    except (Call.DoesNotExist, QueueSurvey.DoesNotExist):
        raise WebhookError("unknown call or survey", status=404) from None
