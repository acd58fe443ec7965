"""Running a survey: answers saved as given, the branch followed, back, and the path rules."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm import events
from crm.models import TimelineEntry
from surveys.models import Answer, ResponseStatus
from surveys.selectors import answer_values
from surveys.services.runs import (
    SurveyClosed,
    response_answer,
    response_back,
    response_end,
    response_start,
)
from tests.crm.factories import ContactFactory
from tests.surveys.support import csat_survey, script_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    seen: list[events.DomainEvent] = []
    monkeypatch.setattr(events, "_subscribers", [seen.append])
    return seen


def test_a_script_follows_its_branch_and_changing_an_answer_changes_the_path(tenant):
    survey = script_survey(tenant)
    response = response_start(survey=survey, mode="agent")
    assert response.current_step_key == "intro"

    response = response_answer(response=response, step_key="intro", value=None)
    response = response_answer(response=response, step_key="interested", value="yes")
    response = response_answer(response=response, step_key="product", value="fixed")
    assert response.path == ["intro", "interested", "product", "kwh"]
    assert response.current_step_key == "kwh"

    # back twice and the same answer again: later steps stay as they were
    response = response_back(response=response)
    response = response_back(response=response)
    assert response.current_step_key == "interested"
    response = response_answer(response=response, step_key="interested", value="yes")
    assert response.current_step_key == "product"
    assert response.path == ["intro", "interested", "product", "kwh"]

    # another product: the branch goes to the callback date instead
    response = response_answer(response=response, step_key="product", value="variable")
    assert response.path == ["intro", "interested", "product", "callback"]
    response = response_answer(response=response, step_key="callback", value="2026-12-01")
    assert response.status == ResponseStatus.COMPLETED
    assert response.outcome == "callback"
    assert answer_values(response) == {
        "interested": "yes",
        "product": "variable",
        "callback": "2026-12-01",
    }


def test_going_back_and_taking_another_branch_drops_answers_off_the_path(tenant):
    survey = script_survey(tenant)
    response = response_start(survey=survey, mode="agent")
    for key, value in [("intro", None), ("interested", "yes"), ("product", "variable")]:
        response = response_answer(response=response, step_key=key, value=value)
    assert response.current_step_key == "callback"
    response = response_answer(response=response, step_key="interested", value="no")
    assert response.status == ResponseStatus.COMPLETED
    assert response.outcome == "not_interested"
    assert response.path == ["intro", "interested"]
    assert set(Answer.objects.filter(response=response).values_list("step__key", flat=True)) == {
        "interested"
    }


def test_answers_to_steps_off_the_path_or_after_the_end_are_refused(tenant):
    survey = script_survey(tenant)
    response = response_start(survey=survey, mode="agent")
    with pytest.raises(ValidationError) as caught:
        response_answer(response=response, step_key="kwh", value="100")
    assert caught.value.messages == ["Step “kwh” is not on this response's path."]
    response = response_answer(response=response, step_key="intro", value=None)
    with pytest.raises(ValidationError, match="not one of the choices"):
        response_answer(response=response, step_key="interested", value="maybe")
    assert not Answer.objects.filter(response=response).exists()
    response = response_answer(response=response, step_key="interested", value="no")
    with pytest.raises(SurveyClosed):
        response_answer(response=response, step_key="interested", value="yes")


def test_completion_is_announced_and_on_the_contacts_timeline(
    tenant, published, django_capture_on_commit_callbacks
):
    contact = ContactFactory(tenant=tenant)
    survey = csat_survey(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        response = response_start(survey=survey, mode="web", contact=contact)
        for key, value in [("csat", "5"), ("resolved", "yes"), ("nps", "10")]:
            response = response_answer(response=response, step_key=key, value=value)
    assert [e.name for e in published] == ["survey.response_saved"]
    assert published[0].payload == {
        "response_id": response.pk,
        "survey_id": survey.pk,
        "version_id": response.version_id,
        "mode": "web",
        "contact_id": contact.pk,
        "call_id": None,
        "conversation_id": None,
        "outcome": "",
        "completed": True,
    }
    entry = TimelineEntry.objects.get(contact=contact, kind="survey.response_saved")
    assert entry.ref_id == str(response.pk)


def test_a_run_ended_early_keeps_its_answers_as_partial(tenant):
    survey = csat_survey(tenant)
    response = response_start(survey=survey, mode="web")
    response = response_answer(response=response, step_key="csat", value="2")
    response = response_end(response=response)
    assert response.status == ResponseStatus.ENDED
    assert answer_values(response) == {"csat": "2"}


def test_a_survey_runs_only_in_its_modes_and_with_rows_of_its_tenant(tenant, other_tenant):
    survey = csat_survey(tenant, for_web=True)
    with pytest.raises(ValidationError, match="not set up to run as agent script"):
        response_start(survey=survey, mode="agent")
    with pytest.raises(ValidationError, match="belongs to another tenant"):
        response_start(survey=survey, mode="web", contact=ContactFactory(tenant=other_tenant))
