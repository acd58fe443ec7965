"""Post-call IVR surveys: asked when the agent hangs up and the caller is still on the line.

`ivr_after_call` is registered with `telephony.services.after_call` (SurveysConfig.ready): for a
call whose queue has an active QueueSurvey it starts a response and answers the first
question's TwiML. Each question is a `<Gather>` posting to
/hooks/twilio/voice/survey/<response>/<step>/<attempt>/; a key that matches no choice (or
silence) asks again, and after MAX_ATTEMPTS the survey ends politely with the answers given
so far kept. Questions are spoken in the survey's language (else the tenant's).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from twilio.twiml.voice_response import VoiceResponse

from surveys.flow import render_text
from surveys.models import (
    QueueSurvey,
    ResponseStatus,
    StepKind,
    SurveyResponse,
    VersionStatus,
)
from surveys.services.runs import Steps, SurveyClosed, response_answer, response_end, response_start
from telephony.models import Call
from telephony.services.prompts import Speech

logger = logging.getLogger("surveys")
MAX_ATTEMPTS = 3
GATHER_TIMEOUT = 6

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "intro": "Please stay on the line for a short survey about your call.",
        "consent": (
            "We would like to ask you a few short questions about your call. "
            "Press 1 to take the survey, or hang up."
        ),
        "invalid": "Sorry, that is not a valid answer.",
        "silence": "Sorry, we did not hear your answer.",
        "thanks": "Thank you for your answers. Goodbye.",
        "goodbye": "Thank you for your time. Goodbye.",
        "yes_no": "Press 1 for yes or 2 for no.",
        "rating": "Press a key from 1 to 5, where 5 is best.",
        "nps": "Enter a number from 0 to 10, then press the pound key.",
        "number": "Enter the number, then press the pound key.",
        "choice": "Press {key} for {label}.",
    },
    "da": {
        "intro": "Bliv venligst på linjen til en kort undersøgelse om dit opkald.",
        "consent": (
            "Vi vil gerne stille dig et par korte spørgsmål om dit opkald. "
            "Tryk 1 for at deltage, eller læg på."
        ),
        "invalid": "Beklager, det er ikke et gyldigt svar.",
        "silence": "Beklager, vi hørte ikke dit svar.",
        "thanks": "Tak for dine svar. Farvel.",
        "goodbye": "Tak for din tid. Farvel.",
        "yes_no": "Tryk 1 for ja eller 2 for nej.",
        "rating": "Tryk på en tast fra 1 til 5, hvor 5 er bedst.",
        "nps": "Indtast et tal fra 0 til 10 og tryk derefter på firkant.",
        "number": "Indtast tallet og tryk derefter på firkant.",
        "choice": "Tryk {key} for {label}.",
    },
    "pl": {
        "intro": "Prosimy pozostać na linii, aby wziąć udział w krótkiej ankiecie.",
        "consent": (
            "Chcielibyśmy zadać kilka krótkich pytań o rozmowę. "
            "Naciśnij 1, aby wziąć udział, lub rozłącz się."
        ),
        "invalid": "Przepraszamy, to nie jest prawidłowa odpowiedź.",
        "silence": "Przepraszamy, nie usłyszeliśmy odpowiedzi.",
        "thanks": "Dziękujemy za odpowiedzi. Do widzenia.",
        "goodbye": "Dziękujemy za poświęcony czas. Do widzenia.",
        "yes_no": "Naciśnij 1, aby odpowiedzieć tak, lub 2, aby odpowiedzieć nie.",
        "rating": "Naciśnij klawisz od 1 do 5, gdzie 5 oznacza najlepiej.",
        "nps": "Wpisz liczbę od 0 do 10, a następnie naciśnij krzyżyk.",
        "number": "Wpisz liczbę, a następnie naciśnij krzyżyk.",
        "choice": "Naciśnij {key}, aby wybrać {label}.",
    },
}


def _text(speech: Speech, name: str, **params: object) -> str:
    return TEXTS.get(speech.language, TEXTS["en"])[name].format(**params)


def answer_url(response: SurveyResponse, step_key: str, attempt: int) -> str:
    path = reverse("surveys:ivr-answer", args=[response.pk, step_key, attempt])
    return settings.PUBLIC_BASE_URL + path


def _speech(response: SurveyResponse) -> Speech:
    return Speech.for_language(response.language or response.survey.speaking_language())


def _placeholders(response: SurveyResponse) -> dict[str, str]:
    values = {"tenant.name": response.tenant.name}
    if response.contact is not None:
        values["contact.first_name"] = response.contact.first_name
        values["contact.last_name"] = response.contact.last_name
    if response.agent is not None:
        values["agent.first_name"] = response.agent.user.first_name
        values["agent.last_name"] = response.agent.user.last_name
    return values


def _say(verb, speech: Speech, text: str) -> None:
    if text:
        verb.say(text, language=speech.say_language, voice=speech.voice)


def _hint(speech: Speech, step) -> list[str]:
    if step.kind == StepKind.SINGLE:
        return [
            _text(speech, "choice", key=index, label=choice["label"])
            for index, choice in enumerate(step.choices, start=1)
        ]
    if step.kind in (StepKind.YES_NO, StepKind.RATING, StepKind.NPS, StepKind.NUMBER):
        return [_text(speech, step.kind)]
    return []


def question_twiml(
    response: SurveyResponse, *, attempt: int = 0, prefix: tuple[str, ...] = ()
) -> str:
    """What the caller hears now: `prefix` texts, any "say" steps up to the next question
    (answered as they are spoken), then the question in a `<Gather>`; or the thanks and a
    hang-up once the run is finished. Runs the say steps through `response_answer`."""
    speech = _speech(response)
    twiml = VoiceResponse()
    for text in prefix:
        _say(twiml, speech, text)
    steps = Steps.of(response.version)
    values = _placeholders(response)
    while response.is_open and steps.rows[response.current_step_key].kind == StepKind.SAY:
        step = steps.rows[response.current_step_key]
        _say(twiml, speech, render_text(step.text, values))
        response = response_answer(response=response, step_key=step.key, value=None)
    if not response.is_open:
        _say(twiml, speech, _text(speech, "thanks"))
        twiml.hangup()
        return str(twiml)
    step = steps.rows[response.current_step_key]
    one_key = step.kind in (StepKind.SINGLE, StepKind.YES_NO, StepKind.RATING)
    gather = twiml.gather(
        action=answer_url(response, step.key, attempt),
        method="POST",
        input="dtmf",
        num_digits=1 if one_key else None,
        finish_on_key=None if one_key else "#",
        timeout=GATHER_TIMEOUT,
        action_on_empty_result=True,
    )
    _say(gather, speech, render_text(step.text, values))
    for line in _hint(speech, step):
        _say(gather, speech, line)
    # Clients that continue past a silent Gather reach the same action with no Digits.
    twiml.redirect(answer_url(response, step.key, attempt), method="POST")
    return str(twiml)


def ivr_after_call(call: Call) -> str | None:
    """The after-call handler: a survey's first question for callers of a queue that has one,
    None otherwise (telephony then hangs up). Asked once per call."""
    if call.queue_id is None:
        return None
    setting = (
        QueueSurvey.objects.select_related("survey__tenant")
        .filter(queue_id=call.queue_id, is_active=True, survey__for_ivr=True)
        .first()
    )
    if setting is None:
        return None
    survey = setting.survey
    if not survey.versions.filter(status=VersionStatus.PUBLISHED).exists():
        return None
    if SurveyResponse.objects.filter(call=call, mode="ivr").exists():
        return None  # the Dial action delivered twice: the survey already runs
    if setting.ask_first:
        return consent_twiml(call=call, setting=setting)
    return _start(call, survey)


def _start(call: Call, survey) -> str:
    with transaction.atomic():
        response = response_start(
            survey=survey,
            mode="ivr",
            call=call,
            contact=call.contact,
            agent=call.agent,
            queue=call.queue,
            language=survey.speaking_language(),
        )
        return question_twiml(response, prefix=(_text(_speech(response), "intro"),))


def consent_url(call: Call, setting: QueueSurvey) -> str:
    path = reverse("surveys:ivr-consent", args=[call.pk, setting.pk])
    return settings.PUBLIC_BASE_URL + path


def consent_twiml(*, call: Call, setting: QueueSurvey) -> str:
    """Ask whether the caller will take the survey: one key, nothing stored yet."""
    speech = Speech.for_language(setting.survey.speaking_language())
    twiml = VoiceResponse()
    gather = twiml.gather(
        action=consent_url(call, setting),
        method="POST",
        input="dtmf",
        num_digits=1,
        timeout=GATHER_TIMEOUT,
        action_on_empty_result=True,
    )
    _say(gather, speech, _text(speech, "consent"))
    twiml.redirect(consent_url(call, setting), method="POST")
    return str(twiml)


def ivr_survey_consent(*, call_id: int, setting_id: int, call_sid: str, digits: str) -> str:
    """The caller's answer to "take the survey?": 1 starts it, anything else (or silence)
    ends the call politely with nothing stored. Raises Call.DoesNotExist / QueueSurvey
    .DoesNotExist for a call or setting that do not belong together (the webhook answers 404)."""
    call = Call.objects.select_related("contact", "agent", "queue").get(pk=call_id, sid=call_sid)
    setting = QueueSurvey.objects.select_related("survey__tenant").get(
        pk=setting_id, queue_id=call.queue_id, tenant_id=call.tenant_id
    )
    existing = SurveyResponse.objects.filter(call=call, mode="ivr").first()
    if existing is not None:  # a repeated delivery: carry on where the survey is
        return question_twiml(existing)
    if (
        digits.strip() == "1"
        and setting.survey.versions.filter(status=VersionStatus.PUBLISHED).exists()
    ):
        return _start(call, setting.survey)
    speech = Speech.for_language(setting.survey.speaking_language())
    twiml = VoiceResponse()
    _say(twiml, speech, _text(speech, "goodbye"))
    twiml.hangup()
    return str(twiml)


def _value(step, digits: str) -> str | None:
    """The answer the keys stand for, or None when they match nothing."""
    if step.kind == StepKind.SINGLE:
        if digits.isdigit() and 1 <= int(digits) <= len(step.choices):
            return step.choices[int(digits) - 1]["value"]
        return None
    if step.kind == StepKind.YES_NO:
        return {"1": "yes", "2": "no"}.get(digits)
    return digits or None


def ivr_survey_answer(
    *, response_id: int, call_sid: str, step_key: str, attempt: int, digits: str
) -> str:
    """A `<Gather>` result: save the answer and ask the next question, or ask again.

    A late or repeated delivery for a step already answered just repeats the current question,
    so a provider retry never stores an answer twice. Raises SurveyResponse.DoesNotExist when
    the response is unknown or belongs to another call (the webhook answers 404).
    """
    response = SurveyResponse.objects.select_related(
        "survey__tenant", "version", "tenant", "contact", "agent__user", "call"
    ).get(pk=response_id, mode="ivr", call__sid=call_sid)
    speech = _speech(response)
    if response.status != ResponseStatus.IN_PROGRESS:
        twiml = VoiceResponse()
        _say(twiml, speech, _text(speech, "goodbye"))
        twiml.hangup()
        return str(twiml)
    if step_key != response.current_step_key:
        return question_twiml(response, attempt=0)
    step = Steps.of(response.version).rows[step_key]
    value = _value(step, digits.strip())
    problem = "silence" if not digits.strip() else "invalid"
    if value is not None:
        try:
            with transaction.atomic():
                response = response_answer(response=response, step_key=step_key, value=value)
                return question_twiml(response)
        except ValidationError as exc:
            logger.info("IVR survey %s: %s refused: %s", response.pk, step_key, exc.messages)
        except SurveyClosed:
            return question_twiml(response)
    if attempt + 1 >= MAX_ATTEMPTS:
        response_end(response=response)
        twiml = VoiceResponse()
        _say(twiml, speech, _text(speech, problem))
        _say(twiml, speech, _text(speech, "goodbye"))
        twiml.hangup()
        return str(twiml)
    return question_twiml(response, attempt=attempt + 1, prefix=(_text(speech, problem),))
