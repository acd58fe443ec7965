"""Web surveys through the client: a signed link, one step per page, the contact's language,
one response per link, clear pages for expired or used links, 400 with the reason."""

from __future__ import annotations

import time

import pytest

from surveys.models import Answer, ResponseStatus, SurveyResponse
from surveys.services.links import survey_link_token
from tests.crm.factories import ContactFactory
from tests.surveys.support import csat_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(tenant):
    return csat_survey(tenant)


@pytest.fixture
def contact(tenant):
    return ContactFactory(tenant=tenant, first_name="Søren", language="da")


def url_for(survey, contact, nonce="n1") -> str:
    return f"/s/{survey_link_token(survey=survey, contact=contact, nonce=nonce)}/"


def test_a_contact_answers_the_whole_survey_once(client, survey, contact):
    url = url_for(survey, contact)
    # opening the link shows the first question in Danish and stores nothing
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Hvor tilfreds var du med hjælpen?" in body
    assert 'lang="da"' in body
    assert 'name="viewport"' in body
    assert not SurveyResponse.objects.exists()

    # each answer moves to the next page
    assert client.post(url, {"step": "csat", "value": "4"}).status_code == 302
    response = SurveyResponse.objects.get()
    assert (response.mode, response.contact, response.current_step_key) == (
        "web",
        contact,
        "resolved",
    )
    assert "Blev dit problem løst?" in client.get(url).content.decode()
    client.post(url, {"step": "resolved", "value": "yes"})
    done = client.post(url, {"step": "nps", "value": "9"})
    assert done.status_code == 200
    assert "Tak" in done.content.decode() or "Thank" in done.content.decode()
    response.refresh_from_db()
    assert response.status == ResponseStatus.COMPLETED
    assert Answer.objects.filter(response=response).count() == 3

    # the link is used: a clear page, nothing more stored
    again = client.get(url)
    assert again.status_code == 410
    assert again.context["reason"] == "used"
    assert client.post(url, {"step": "csat", "value": "1"}).status_code == 410
    assert SurveyResponse.objects.count() == 1
    assert Answer.objects.count() == 3


def test_going_back_on_the_web_page_keeps_the_answer_shown(client, survey, contact):
    url = url_for(survey, contact)
    client.post(url, {"step": "csat", "value": "4"})
    assert client.post(url, {"step": "resolved", "back": "1"}).status_code == 302
    page = client.get(url)
    assert page.context["step"].key == "csat"
    assert page.context["given"] == ["4"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"step": "csat", "value": "7"}, "7 is out of range: answer from 1 to 5."),
        ({"step": "csat"}, "An answer is required."),
        ({"step": "nps", "value": "9"}, "Step “nps” is not on this response&#x27;s path."),
    ],
)
def test_bad_input_answers_400_with_the_reason_and_stores_nothing(
    client, survey, contact, fields, reason
):
    page = client.post(url_for(survey, contact), fields)
    assert page.status_code == 400
    assert reason in page.content.decode()
    assert not SurveyResponse.objects.exists()
    assert not Answer.objects.exists()


def test_a_wrong_choice_after_a_good_answer_keeps_the_good_one(client, survey, contact):
    url = url_for(survey, contact)
    client.post(url, {"step": "csat", "value": "5"})
    page = client.post(url, {"step": "resolved", "value": "perhaps"})
    assert page.status_code == 400
    assert "“perhaps” is not one of the choices offered." in page.content.decode()
    assert list(Answer.objects.values_list("step__key", "choice")) == [("csat", "5")]


def test_an_expired_link_gets_a_clear_page_and_stores_nothing(
    client, survey, contact, settings, monkeypatch
):
    # given a link signed 15 days ago, and links valid for 14
    settings.SURVEY_LINK_MAX_AGE_DAYS = 14
    now = time.time()
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: now - 15 * 86400)
        url = url_for(survey, contact)
    page = client.get(url)
    assert page.status_code == 410
    assert page.context["reason"] == "expired"
    assert "expired" in page.content.decode()
    assert client.post(url, {"step": "csat", "value": "5"}).status_code == 410
    assert not SurveyResponse.objects.exists()
    # the same link is still good for a 30-day setting
    settings.SURVEY_LINK_MAX_AGE_DAYS = 30
    assert client.get(url).status_code == 200


def test_a_tampered_link_is_not_found(client, survey, contact):
    token = survey_link_token(survey=survey, contact=contact)
    page = client.get(f"/s/{token[:-2]}xx/")
    assert page.status_code == 404
    assert page.context["reason"] == "invalid"


def test_a_contact_without_a_language_gets_the_surveys_language(client, tenant):
    survey = csat_survey(tenant, for_web=True)
    survey.language = "pl"
    survey.save()
    contact = ContactFactory(tenant=tenant, language="")
    assert 'lang="pl"' in client.get(url_for(survey, contact)).content.decode()
