"""Running a survey: starting a response, answering a step, going back, ending.

The same functions serve the agent's script panel, the IVR and the web page, so a survey
behaves the same whoever runs it. Each answer is written as it is given (a reload or a
dropped call loses nothing) and the response's `path` records the branch actually followed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from channels_inbox.models import Conversation
from crm.events import publish
from crm.models import AgentProfile, Contact, Queue, Ticket
from crm.services.timeline import timeline_add
from crm.tenancy import Principal, require_same_tenant
from surveys.flow import Cleaned, StepSpec, clean_answer, next_after
from surveys.models import (
    Answer,
    DispositionState,
    Mode,
    ResponseStatus,
    Step,
    StepKind,
    Survey,
    SurveyResponse,
    SurveyVersion,
    VersionStatus,
)
from telephony.models import Call

logger = logging.getLogger("surveys")
REF_TYPE = "surveys.response"
MODE_FLAG = {Mode.AGENT: "for_agent", Mode.IVR: "for_ivr", Mode.WEB: "for_web"}


class SurveyClosed(Exception):
    """The response no longer takes answers (completed or ended)."""


@dataclass(frozen=True)
class Steps:
    """A version's steps, loaded once: rows by key and the specs `surveys.flow` works on."""

    rows: dict[str, Step]
    specs: list[StepSpec]

    @classmethod
    def of(cls, version: SurveyVersion) -> Steps:
        rows = list(version.steps.order_by("position", "pk"))
        return cls(rows={row.key: row for row in rows}, specs=[StepSpec.of(row) for row in rows])

    def spec(self, key: str) -> StepSpec:
        return next(spec for spec in self.specs if spec.key == key)

    def first_of(self, kind: str) -> str | None:
        return next((spec.key for spec in self.specs if spec.kind == kind), None)


def _lock(response: SurveyResponse) -> SurveyResponse:
    return SurveyResponse.objects.select_for_update().get(pk=response.pk)


@transaction.atomic
def response_start(
    *,
    survey: Survey,
    mode: str,
    contact: Contact | None = None,
    call: Call | None = None,
    conversation: Conversation | None = None,
    ticket: Ticket | None = None,
    agent: AgentProfile | None = None,
    queue: Queue | None = None,
    language: str = "",
    link_nonce: str | None = None,
    campaign_ref: str = "",
) -> SurveyResponse:
    """Start a run of the survey's published version, positioned on its first step.

    Raises ValidationError when the survey has no published version, may not run in `mode`,
    or a linked row belongs to another tenant. The contact defaults to the call's or the
    conversation's. A `link_nonce` already used raises IntegrityError (one response per link).
    """
    if mode not in MODE_FLAG:
        raise ValidationError(f"Unknown mode “{mode}”.")
    if not getattr(survey, MODE_FLAG[mode]):
        raise ValidationError(f"“{survey}” is not set up to run as {Mode(mode).label.lower()}.")
    require_same_tenant(survey.tenant_id, [contact, call, conversation, ticket, agent, queue])
    version = survey.versions.filter(status=VersionStatus.PUBLISHED).first()
    if version is None:
        raise ValidationError(f"“{survey}” has no published version.")
    first = version.steps.order_by("position", "pk").values_list("key", flat=True).first()
    if first is None:
        raise ValidationError(f"“{survey}” has no steps.")
    if contact is None:
        contact = (call.contact if call is not None else None) or (
            conversation.contact if conversation is not None else None
        )
    now = timezone.now()
    return SurveyResponse.objects.create(
        started_at=now,
        started_on=timezone.localtime(now, ZoneInfo(survey.tenant.time_zone or "UTC")).date(),
        tenant_id=survey.tenant_id,
        survey=survey,
        version=version,
        mode=mode,
        language=language or (contact.language if contact else "") or survey.speaking_language(),
        contact=contact,
        call=call,
        conversation=conversation,
        ticket=ticket or (conversation.ticket if conversation is not None else None),
        agent=agent,
        queue=queue or (call.queue if call is not None else None),
        link_nonce=link_nonce,
        campaign_ref=campaign_ref,
        path=[first],
        current_step_key=first,
    )


def _refresh_scores(response: SurveyResponse, steps: Steps) -> None:
    """Copy the answers to the first NPS and rating questions onto the response (None when
    unanswered or dropped from the path), for the results' breakdowns."""
    nps_key, csat_key = steps.first_of(StepKind.NPS), steps.first_of(StepKind.RATING)
    keys = [key for key in (nps_key, csat_key) if key]
    numbers = {}
    if keys:
        numbers = dict(
            Answer.objects.filter(response=response, step__key__in=keys).values_list(
                "step__key", "number"
            )
        )
    nps = int(numbers[nps_key]) if numbers.get(nps_key) is not None else None
    csat = int(numbers[csat_key]) if numbers.get(csat_key) is not None else None
    if (nps, csat) != (response.nps_score, response.csat_score):
        response.nps_score, response.csat_score = nps, csat
        response.save(update_fields=["nps_score", "csat_score"])


def _store(response: SurveyResponse, step: Step, answer: Cleaned) -> None:
    Answer.objects.filter(response=response, step=step).delete()
    if answer.empty:
        return
    common = {
        "tenant_id": response.tenant_id,
        "response": response,
        "survey_id": response.survey_id,
        "version_id": response.version_id,
        "step": step,
        "queue_id": response.queue_id,
        "agent_id": response.agent_id,
        "started_at": response.started_at,
        "number": answer.number,
        "text": answer.text,
        "date": answer.date,
    }
    if answer.choices:
        Answer.objects.bulk_create(Answer(choice=choice, **common) for choice in answer.choices)
    else:
        Answer.objects.create(**common)


@transaction.atomic
def response_answer(
    *, response: SurveyResponse, step_key: str, value: Any, actor: Principal | None = None
) -> SurveyResponse:
    """Save the answer to `step_key` and move on along the branch it selects.

    `step_key` must be on the response's path (the current step, or an earlier one when going
    back to change an answer); anything else is refused with ValidationError, as is a value the
    step does not accept (a rating out of range, a choice not offered, a missing required
    answer). Changing an earlier answer keeps the later ones when the same branch follows, and
    drops the answers of steps no longer on the path when another branch does.
    Ending a branch completes the response (see `response_complete`).
    """
    response = _lock(response)
    if not response.is_open:
        raise SurveyClosed("This survey is already finished.")
    steps = Steps.of(response.version)
    path = list(response.path)
    if step_key not in path or step_key not in steps.rows:
        raise ValidationError(f"Step “{step_key}” is not on this response's path.")
    answer = clean_answer(steps.spec(step_key), value)
    _store(response, steps.rows[step_key], answer)
    scored = steps.spec(step_key).kind in (StepKind.NPS, StepKind.RATING)
    following = next_after(steps.specs, step_key, answer)
    index = path.index(step_key)
    kept = path[: index + 1]
    if following.step_key is not None and path[index + 1 : index + 2] == [following.step_key]:
        response.current_step_key = following.step_key
        response.save(update_fields=["current_step_key", "updated_at"])
        if scored:
            _refresh_scores(response, steps)
        return response
    dropped = path[index + 1 :]
    if dropped:
        Answer.objects.filter(response=response, step__key__in=dropped).delete()
    if scored or dropped:
        _refresh_scores(response, steps)
    if following.step_key is None:
        response.path = kept
        response.save(update_fields=["path", "updated_at"])
        return response_complete(response=response, outcome=following.outcome, actor=actor)
    response.path = [*kept, following.step_key]
    response.current_step_key = following.step_key
    response.save(update_fields=["path", "current_step_key", "updated_at"])
    return response


@transaction.atomic
def response_back(*, response: SurveyResponse) -> SurveyResponse:
    """Show the previous step of the path again (its answer is kept until changed)."""
    response = _lock(response)
    if not response.is_open:
        raise SurveyClosed("This survey is already finished.")
    path = list(response.path)
    index = path.index(response.current_step_key) if response.current_step_key in path else 0
    if index > 0:
        response.current_step_key = path[index - 1]
        response.save(update_fields=["current_step_key", "updated_at"])
    return response


def _announce(response: SurveyResponse) -> None:
    publish(
        "survey.response_saved",
        tenant_id=response.tenant_id,
        payload={
            "response_id": response.pk,
            "survey_id": response.survey_id,
            "version_id": response.version_id,
            "mode": response.mode,
            "contact_id": response.contact_id,
            "call_id": response.call_id,
            "conversation_id": response.conversation_id,
            "outcome": response.outcome,
            "completed": response.status == ResponseStatus.COMPLETED,
        },
    )


@transaction.atomic
def response_complete(
    *, response: SurveyResponse, outcome: str = "", actor: Principal | None = None
) -> SurveyResponse:
    """Finish the response with `outcome`: on the contact's timeline, announced as
    `survey.response_saved`, and — for an agent's script on a call — the outcome becomes the
    call's disposition (now, or once the agent's leg has ended: `disposition_state`)."""
    response = _lock(response)
    if not response.is_open:
        return response
    response.status = ResponseStatus.COMPLETED
    response.outcome = outcome
    response.current_step_key = ""
    response.completed_at = timezone.now()
    response.save(update_fields=["status", "outcome", "current_step_key", "completed_at"])
    if response.contact_id is not None:
        survey = response.survey
        summary = f"Survey “{survey.name}” answered"
        timeline_add(
            tenant_id=response.tenant_id,
            contact=response.contact,
            kind="survey.response_saved",
            summary=f"{summary}: {outcome}" if outcome else summary,
            actor=actor,
            ticket=response.ticket,
            data={"response_id": response.pk, "survey_id": survey.pk, "mode": response.mode},
            ref_type=REF_TYPE,
            ref_id=response.pk,
        )
    _announce(response)
    if response.mode == Mode.AGENT and response.call_id and outcome and response.agent_id:
        response_apply_disposition(response=response, actor=actor)
    return response


@transaction.atomic
def response_end(*, response: SurveyResponse) -> SurveyResponse:
    """Stop an unfinished run (the caller gave up, hung up, or the agent abandoned the script):
    the answers given so far are kept and count as a partial response."""
    response = _lock(response)
    if not response.is_open:
        return response
    response.status = ResponseStatus.ENDED
    response.completed_at = timezone.now()
    response.save(update_fields=["status", "completed_at", "updated_at"])
    _announce(response)
    return response


def response_apply_disposition(*, response: SurveyResponse, actor: Principal | None = None) -> bool:
    """Make the completed script's outcome the call's disposition through telephony's wrap-up.

    Returns True when applied. While the agent is still connected the wrap-up is refused by
    telephony, so the response waits (`pending`) and `call_ended` (or the panel's button)
    tries again. An outcome that is no disposition code of the tenant is left as the response's
    outcome only; a call already wrapped up keeps the agent's own choice.
    """
    from telephony.services.incall import CallConflict, call_wrapup

    if not (response.call_id and response.agent_id and response.outcome):
        return False
    if response.disposition_state == DispositionState.APPLIED:
        return True
    call = Call.objects.get(pk=response.call_id)
    agent = AgentProfile.objects.get(pk=response.agent_id)
    try:
        call_wrapup(call=call, agent=agent, disposition=response.outcome, actor=actor)
    except CallConflict as exc:
        # Already wrapped up: the agent chose themselves. Still connected: wait for the end.
        already = exc.code == "already_wrapped_up"
        state = DispositionState.NONE if already else DispositionState.PENDING
        SurveyResponse.objects.filter(pk=response.pk).update(disposition_state=state)
        response.disposition_state = state
        return False
    except ValidationError:
        logger.info("survey outcome %r is no disposition code", response.outcome)
        return False
    SurveyResponse.objects.filter(pk=response.pk).update(disposition_state=DispositionState.APPLIED)
    response.disposition_state = DispositionState.APPLIED
    return True


def call_ended(*, call_id: int) -> None:
    """A call is over: scripts waiting to set its disposition do so, and IVR surveys the caller
    hung up on are ended (their answers kept as a partial response)."""
    for response in SurveyResponse.objects.filter(
        call_id=call_id, disposition_state=DispositionState.PENDING
    ):
        with transaction.atomic():
            response_apply_disposition(response=response)
    for response in SurveyResponse.objects.filter(
        call_id=call_id, mode=Mode.IVR, status=ResponseStatus.IN_PROGRESS
    ):
        response_end(response=response)
