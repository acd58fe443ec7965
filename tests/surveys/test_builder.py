"""Versions: drafts change, published versions are frozen, responses keep their version; the
admin builder refuses cycles and missing jumps with the same messages as the services."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Role
from surveys.models import Step, Survey, SurveyVersion, VersionStatus
from surveys.services.builder import (
    survey_version_new_draft,
    survey_version_publish,
    survey_version_set_steps,
)
from surveys.services.runs import response_start
from tests.conftest import member
from tests.crm.factories import UserFactory
from tests.surveys.support import CSAT_STEPS, csat_survey, make_survey

pytestmark = pytest.mark.django_db


def test_publishing_freezes_a_version_and_a_new_draft_copies_it(tenant):
    # given a published survey with one response
    survey = csat_survey(tenant)
    v1 = survey.versions.get()
    old = response_start(survey=survey, mode="web")

    # when the manager edits: a new draft, changed and published
    draft = survey_version_new_draft(survey=survey)
    assert draft.number == 2
    assert list(draft.steps.values_list("key", flat=True)) == ["csat", "resolved", "nps"]
    with pytest.raises(ValidationError, match="A published version cannot change"):
        survey_version_set_steps(version=v1, steps=CSAT_STEPS[:1])
    survey_version_set_steps(version=draft, steps=CSAT_STEPS[:2])
    survey_version_publish(version=draft)

    # then v1 is retired with its steps intact, the old response keeps it, new runs use v2
    v1.refresh_from_db()
    assert v1.status == VersionStatus.RETIRED
    assert v1.steps.count() == 3
    old.refresh_from_db()
    assert old.version == v1
    assert response_start(survey=survey, mode="web").version == draft
    # and asking for a draft twice gives the same one
    again = survey_version_new_draft(survey=survey)
    assert again == survey_version_new_draft(survey=survey)
    assert again.number == 3


def test_invalid_steps_are_refused_by_the_service_and_nothing_is_written(tenant):
    survey = make_survey(tenant, CSAT_STEPS, publish=False, for_web=True)
    draft = survey.versions.get()
    looping = [
        {"key": "a", "kind": "yes_no", "text": "A?"},
        {"key": "b", "kind": "yes_no", "text": "B?", "branches": [{"when": "*", "goto": "a"}]},
    ]
    with pytest.raises(ValidationError) as caught:
        survey_version_set_steps(version=draft, steps=looping)
    assert caught.value.messages == ["Steps a → b → a form a cycle: a branch may only jump ahead."]
    assert list(draft.steps.values_list("key", flat=True)) == ["csat", "resolved", "nps"]


def test_an_ivr_survey_cannot_publish_a_free_text_step(tenant):
    survey = make_survey(tenant, CSAT_STEPS, publish=False)
    survey.for_ivr = True
    survey.save()
    draft = survey.versions.get()
    Step.objects.create(version=draft, position=9, key="why", kind="text", text="Why?")
    with pytest.raises(ValidationError, match="cannot be answered with phone keys"):
        survey_version_publish(version=draft)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT


# --- the admin builder -----------------------------------------------------------------------


@pytest.fixture
def manager(tenant):
    return member(tenant, Role.MANAGER, user=UserFactory(username="boss", is_staff=True))


def step_form(prefix: str, index: int, **fields) -> dict[str, str]:
    data = {
        "position": str(index + 1),
        "key": "",
        "kind": "yes_no",
        "text": "?",
        "required": "on",
        "choices_text": "",
        "branches_text": "",
    }
    data.update(fields)
    return {f"{prefix}-{index}-{name}": value for name, value in data.items()}


def version_post(version: SurveyVersion, *steps: dict) -> dict[str, str]:
    prefix = "steps"
    body = {
        f"{prefix}-TOTAL_FORMS": str(len(steps)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, fields in enumerate(steps):
        body.update(step_form(prefix, index, **fields))
    return body


def test_the_admin_creates_a_survey_with_a_draft_and_refuses_a_cycle(client, manager, tenant):
    client.force_login(manager)
    response = client.post(
        "/admin/surveys/survey/add/",
        {
            "tenant": tenant.pk,
            "name": "CSAT",
            "for_web": "on",
            "language": "",
            "description": "",
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    survey = Survey.objects.get(name="CSAT")
    draft = survey.versions.get()
    url = f"/admin/surveys/surveyversion/{draft.pk}/change/"

    # a cycle and a jump to a missing step are refused with a clear message
    response = client.post(
        url,
        version_post(
            draft,
            {"key": "q1", "text": "Er du kunde?"},
            {"key": "q2", "text": "Må vi ringe?", "branches_text": "no -> q1\nyes -> q7"},
        ),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Step “q2” jumps to “q7”, which does not exist." in page
    assert not draft.steps.exists()

    response = client.post(
        url,
        version_post(
            draft,
            {"key": "q1", "text": "Er du kunde?"},
            {"key": "q2", "text": "Må vi ringe?", "branches_text": "no -> q1"},
        ),
    )
    assert "Steps q1 → q2 → q1 form a cycle" in response.content.decode()
    assert not draft.steps.exists()

    # valid steps are saved, with their choices and branches parsed
    response = client.post(
        url,
        version_post(
            draft,
            {
                "key": "q1",
                "kind": "single",
                "text": "Hvilken aftale?",
                "choices_text": "fixed | Fast pris\nvariable | Variabel pris",
                "branches_text": "variable -> end:callback",
            },
            {"key": "q2", "text": "Må vi ringe?"},
        ),
    )
    assert response.status_code == 302
    q1 = draft.steps.get(key="q1")
    assert q1.choices == [
        {"value": "fixed", "label": "Fast pris"},
        {"value": "variable", "label": "Variabel pris"},
    ]
    assert q1.branches == [{"when": "variable", "end": "callback"}]

    # published through the admin action, the version can no longer be edited there
    response = client.post(
        "/admin/surveys/surveyversion/",
        {"action": "publish", "_selected_action": [draft.pk]},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == VersionStatus.PUBLISHED
    response = client.post(url, version_post(draft, {"key": "x", "text": "Changed?"}))
    assert response.status_code == 403
    assert list(draft.steps.values_list("key", flat=True)) == ["q1", "q2"]


def test_another_tenants_survey_is_not_found_in_the_admin(client, manager, other_tenant):
    survey = csat_survey(other_tenant)
    client.force_login(manager)
    assert client.get(f"/admin/surveys/survey/{survey.pk}/change/").status_code == 404
    version = survey.versions.get()
    assert client.get(f"/admin/surveys/surveyversion/{version.pk}/change/").status_code == 404


def test_the_responses_changelist_costs_the_same_queries_for_5_and_30_rows(
    client, manager, tenant, django_assert_num_queries
):
    from surveys.services.runs import response_answer

    survey = csat_survey(tenant)

    def fill(total: int) -> None:
        while survey.responses.count() < total:
            response = response_start(survey=survey, mode="web")
            response_answer(response=response, step_key="csat", value="4")

    client.force_login(manager)
    fill(5)
    client.get("/admin/surveys/surveyresponse/")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/admin/surveys/surveyresponse/").status_code == 200
    fill(30)
    with django_assert_num_queries(len(few)):
        page = client.get("/admin/surveys/surveyresponse/")
    assert len(page.context["cl"].result_list) == 30
