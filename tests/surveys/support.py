"""Surveys the tests share: a CSAT/NPS survey, an agent script with branches, and builders."""

from __future__ import annotations

from decimal import Decimal

from crm.models import Tenant
from surveys.models import Survey
from surveys.services.builder import (
    survey_version_new_draft,
    survey_version_publish,
    survey_version_set_steps,
)

CSAT_STEPS = [
    {"key": "csat", "kind": "rating", "text": "Hvor tilfreds var du med hjælpen?"},
    {"key": "resolved", "kind": "yes_no", "text": "Blev dit problem løst?"},
    {"key": "nps", "kind": "nps", "text": "Hvor sandsynligt er det, at du anbefaler os?"},
]

SCRIPT_STEPS = [
    {
        "key": "intro",
        "kind": "say",
        "text": "Hej {contact.first_name}, jeg hedder {agent.first_name} fra {tenant.name}.",
    },
    {
        "key": "interested",
        "kind": "yes_no",
        "text": "Vil du høre om vores nye elaftale?",
        "branches": [{"when": "no", "end": "not_interested"}],
    },
    {
        "key": "product",
        "kind": "single",
        "text": "Hvilken aftale passer dig?",
        "choices": [
            {"value": "fixed", "label": "Fast pris"},
            {"value": "variable", "label": "Variabel pris"},
        ],
        "branches": [{"when": "variable", "goto": "callback"}],
    },
    {
        "key": "kwh",
        "kind": "number",
        "text": "Hvor mange kWh bruger du om året?",
        "min_value": Decimal(0),
        "max_value": Decimal(100000),
        "branches": [{"when": "*", "end": "sale"}],
    },
    {
        "key": "callback",
        "kind": "date",
        "text": "Hvornår må vi ringe igen?",
        "branches": [{"when": "*", "end": "callback"}],
    },
]


def make_survey(
    tenant: Tenant,
    steps: list[dict],
    *,
    name: str = "Kundetilfredshed",
    publish: bool = True,
    **flags: bool,
) -> Survey:
    survey = Survey.objects.create(tenant=tenant, name=name, **flags)
    draft = survey_version_new_draft(survey=survey)
    survey_version_set_steps(version=draft, steps=steps)
    if publish:
        survey_version_publish(version=draft)
    return survey


def csat_survey(tenant: Tenant, **flags: bool) -> Survey:
    flags = flags or {"for_ivr": True, "for_web": True}
    return make_survey(tenant, CSAT_STEPS, **flags)


def script_survey(tenant: Tenant) -> Survey:
    return make_survey(tenant, SCRIPT_STEPS, name="Elaftale salg", for_agent=True)
