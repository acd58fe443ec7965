"""Every kind of step on the web page: say, multiple choice, number, date and free text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from surveys.models import ResponseStatus, SurveyResponse
from surveys.selectors import answer_values
from surveys.services.links import survey_link_token
from tests.crm.factories import ContactFactory
from tests.surveys.support import make_survey

pytestmark = pytest.mark.django_db

STEPS = [
    {"key": "hello", "kind": "say", "text": "Hej {contact.first_name}! Tak fordi du hjælper."},
    {
        "key": "channels",
        "kind": "multiple",
        "text": "Hvordan kontakter du os?",
        "choices": [
            {"value": "phone", "label": "Telefon"},
            {"value": "mail", "label": "E-mail"},
            {"value": "chat", "label": "Chat"},
        ],
    },
    {
        "key": "age",
        "kind": "number",
        "text": "Hvor gammel er du?",
        "min_value": Decimal(16),
        "max_value": Decimal(120),
    },
    {"key": "since", "kind": "date", "text": "Hvornår blev du kunde?", "required": False},
    {"key": "comment", "kind": "text", "text": "Andet?", "required": False},
]


def test_a_web_survey_with_every_kind_of_step(client, tenant):
    survey = make_survey(tenant, STEPS, name="Profil", for_web=True)
    contact = ContactFactory(tenant=tenant, first_name="Søren", language="da")
    url = f"/s/{survey_link_token(survey=survey, contact=contact)}/"

    page = client.get(url).content.decode()
    assert "Hej Søren! Tak fordi du hjælper." in page
    client.post(url, {"step": "hello"})
    page = client.get(url).content.decode()
    assert page.count('type="checkbox"') == 3
    client.post(url, {"step": "channels", "value": ["chat", "phone"]})
    page = client.get(url).content.decode()
    assert 'type="number"' in page
    assert 'min="16' in page
    bad = client.post(url, {"step": "age", "value": "12"})
    assert bad.status_code == 400
    assert "12 is below the minimum 16." in bad.content.decode()
    client.post(url, {"step": "age", "value": "42"})
    assert 'type="date"' in client.get(url).content.decode()
    client.post(url, {"step": "since", "value": ""})  # optional: skipped
    assert "<textarea" in client.get(url).content.decode()
    done = client.post(url, {"step": "comment", "value": "Fin service"})
    assert done.status_code == 200

    response = SurveyResponse.objects.get()
    assert response.status == ResponseStatus.COMPLETED
    assert answer_values(response) == {
        "channels": ["phone", "chat"],
        "age": "42",
        "comment": "Fin service",
    }
