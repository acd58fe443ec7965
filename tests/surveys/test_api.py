"""The surveys API: surveys (read) and responses (read, create for web/IVR integrations)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.models import Role
from surveys.models import Answer, SurveyResponse
from surveys.services.runs import response_answer, response_start
from tests.conftest import member
from tests.crm.factories import ContactFactory, UserFactory
from tests.surveys.support import CSAT_STEPS, csat_survey, make_survey

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_surveys_are_listed_with_their_published_steps_at_a_fixed_cost(
    agent_user, tenant, other_tenant, django_assert_num_queries
):
    csat_survey(tenant)
    csat_survey(other_tenant)  # never shown
    client = api(agent_user)
    client.get("/api/v1/surveys/")  # the user's roles are read once, then cached on the user
    with django_assert_num_queries(3):
        body = client.get("/api/v1/surveys/").json()
    assert [row["name"] for row in body["results"]] == ["Kundetilfredshed"]
    row = body["results"][0]
    assert row["modes"] == ["ivr", "web"]
    assert row["published_version"] == 1
    assert [step["key"] for step in row["steps"]] == ["csat", "resolved", "nps"]
    for index in range(4):
        make_survey(tenant, CSAT_STEPS, name=f"Survey {index}", for_web=True)
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/surveys/").json()["results"]) == 5


def test_an_integration_records_a_complete_response(agent_user, tenant):
    survey = csat_survey(tenant)
    contact = ContactFactory(tenant=tenant)
    response = api(agent_user).post(
        "/api/v1/survey-responses/",
        {
            "survey": survey.pk,
            "mode": "web",
            "contact": contact.pk,
            "answers": [
                {"step": "csat", "value": 5},
                {"step": "resolved", "value": "yes"},
                {"step": "nps", "value": "10"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "completed"
    assert body["contact"] == contact.pk
    assert body["answers"] == {"csat": "5", "resolved": "yes", "nps": "10"}
    # and it reads back, listed by survey
    listed = api(agent_user).get(f"/api/v1/survey-responses/?survey={survey.pk}").json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]


def test_unfinished_answers_are_stored_as_a_partial_response(agent_user, tenant):
    survey = csat_survey(tenant)
    response = api(agent_user).post(
        "/api/v1/survey-responses/",
        {"survey": survey.pk, "mode": "ivr", "answers": [{"step": "csat", "value": 2}]},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["status"] == "ended"


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        ([{"step": "csat", "value": 6}], "csat: 6 is out of range: answer from 1 to 5."),
        (
            [{"step": "csat", "value": 4}, {"step": "resolved", "value": "perhaps"}],
            "resolved: “perhaps” is not one of the choices offered.",
        ),
        ([{"step": "nps", "value": 9}], "nps: Step “nps” is not on this response's path."),
    ],
)
def test_bad_answers_answer_400_with_the_reason_and_store_nothing(
    agent_user, tenant, answers, reason
):
    survey = csat_survey(tenant)
    response = api(agent_user).post(
        "/api/v1/survey-responses/",
        {"survey": survey.pk, "mode": "web", "answers": answers},
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    index = str(len(answers) - 1)
    assert fields["answers"][index] == [reason]
    assert not SurveyResponse.objects.exists()
    assert not Answer.objects.exists()


def test_other_tenants_surveys_and_responses_are_invisible(agent_user, tenant, other_tenant):
    theirs = csat_survey(other_tenant)
    response = response_start(survey=theirs, mode="web")
    response_answer(response=response, step_key="csat", value="3")
    client = api(agent_user)
    assert client.get(f"/api/v1/surveys/{theirs.pk}/").status_code == 404
    assert client.get(f"/api/v1/survey-responses/{response.pk}/").status_code == 404
    created = client.post(
        "/api/v1/survey-responses/",
        {"survey": theirs.pk, "mode": "web", "answers": [{"step": "csat", "value": 3}]},
        format="json",
    )
    assert created.status_code == 400
    assert created.json()["error"]["fields"]["survey"] == ["Unknown survey."]
    mine = csat_survey(tenant)
    foreign_contact = ContactFactory(tenant=other_tenant)
    created = client.post(
        "/api/v1/survey-responses/",
        {
            "survey": mine.pk,
            "mode": "web",
            "contact": foreign_contact.pk,
            "answers": [{"step": "csat", "value": 3}],
        },
        format="json",
    )
    assert created.status_code == 400
    assert "contact" in created.json()["error"]["fields"]


def test_viewers_read_but_do_not_record(tenant):
    viewer = member(tenant, Role.VIEWER, user=UserFactory(username="v"))
    survey = csat_survey(tenant)
    client = api(viewer)
    assert client.get("/api/v1/survey-responses/").status_code == 200
    response = client.post(
        "/api/v1/survey-responses/",
        {"survey": survey.pk, "mode": "web", "answers": [{"step": "csat", "value": 3}]},
        format="json",
    )
    assert response.status_code == 403
    assert api(None).get("/api/v1/surveys/").status_code in (401, 403)


def test_the_responses_list_costs_the_same_queries_for_5_and_30_rows(
    agent_user, tenant, django_assert_num_queries
):
    survey = csat_survey(tenant)
    client = api(agent_user)

    def fill(total: int) -> None:
        while SurveyResponse.objects.count() < total:
            response = response_start(survey=survey, mode="web")
            response_answer(response=response, step_key="csat", value="4")

    fill(5)
    client.get("/api/v1/survey-responses/?page_size=50")  # roles read once, then cached
    with django_assert_num_queries(3) as few:
        assert len(client.get("/api/v1/survey-responses/?page_size=50").json()["results"]) == 5
    fill(30)
    with django_assert_num_queries(len(few)):
        assert len(client.get("/api/v1/survey-responses/?page_size=50").json()["results"]) == 30
