"""The surveys part of the demo data: a CSAT survey (IVR after calls and web link after a
resolved conversation) and a sales call script per demo tenant, in the tenant's language.

Idempotent like `crm.demo`: surveys are looked up by tenant and name and created only when
missing. Call after `crm.demo.seed` (tenants, queues) and `telephony.demo.seed_voice`:

    report = seed_surveys(seed_voice(seed(SeedReport())))   # surveys.demo.seed as seed_surveys
"""

from __future__ import annotations

from django.db import transaction

from channels_inbox.models import Channel
from crm.demo import SeedReport
from crm.models import ChannelKind, Queue, Tenant
from surveys.models import ChannelSurvey, QueueSurvey, Survey
from surveys.services.builder import (
    survey_version_new_draft,
    survey_version_publish,
    survey_version_set_steps,
)
from telephony.models import DispositionCode

TEXTS = {
    "da": {
        "csat_name": "Kundetilfredshed efter kontakt",
        "csat": "Hvor tilfreds var du med hjælpen i dag?",
        "resolved": "Blev dit spørgsmål løst?",
        "nps": "Hvor sandsynligt er det, at du vil anbefale {tenant.name} til andre?",
        "script_name": "Salg: ny elaftale",
        "intro": "Hej {contact.first_name}, du taler med {agent.first_name} fra {tenant.name}.",
        "interested": "Har du et par minutter til at høre om vores nye aftaler?",
        "product": "Hvilken aftale passer bedst til dig?",
        "fixed": "Fast pris",
        "variable": "Variabel pris",
        "usage": "Hvor mange kWh bruger du om året (cirka)?",
        "callback": "Hvornår må vi ringe tilbage?",
        "sale": "Salg",
        "not_interested": "Ikke interesseret",
        "callback_label": "Ring tilbage",
    },
    "pl": {
        "csat_name": "Zadowolenie klienta po kontakcie",
        "csat": "Jak bardzo jesteś zadowolony z dzisiejszej pomocy?",
        "resolved": "Czy Twoja sprawa została rozwiązana?",
        "nps": "Jak bardzo prawdopodobne jest, że polecisz {tenant.name} znajomym?",
        "script_name": "Sprzedaż: nowa oferta",
        "intro": "Dzień dobry {contact.first_name}, tu {agent.first_name} z {tenant.name}.",
        "interested": "Czy ma Pan/Pani chwilę, aby usłyszeć o naszej nowej ofercie?",
        "product": "Która oferta najbardziej Panu/Pani odpowiada?",
        "fixed": "Stała cena",
        "variable": "Zmienna cena",
        "usage": "Ile GB danych zużywa Pan/Pani miesięcznie (mniej więcej)?",
        "callback": "Kiedy możemy oddzwonić?",
        "sale": "Sprzedaż",
        "not_interested": "Brak zainteresowania",
        "callback_label": "Oddzwonić",
    },
}


def _texts(tenant: Tenant) -> dict[str, str]:
    return TEXTS.get((tenant.language or "en")[:2], TEXTS["da"])


def _csat_steps(t: dict[str, str]) -> list[dict]:
    return [
        {"key": "csat", "kind": "rating", "text": t["csat"]},
        {"key": "resolved", "kind": "yes_no", "text": t["resolved"]},
        {"key": "nps", "kind": "nps", "text": t["nps"]},
    ]


def _script_steps(t: dict[str, str]) -> list[dict]:
    return [
        {"key": "intro", "kind": "say", "text": t["intro"]},
        {
            "key": "interested",
            "kind": "yes_no",
            "text": t["interested"],
            "branches": [{"when": "no", "end": "not_interested"}],
        },
        {
            "key": "product",
            "kind": "single",
            "text": t["product"],
            "choices": [
                {"value": "fixed", "label": t["fixed"]},
                {"value": "variable", "label": t["variable"]},
            ],
            "branches": [{"when": "variable", "goto": "callback"}],
        },
        {
            "key": "usage",
            "kind": "number",
            "text": t["usage"],
            "min_value": 0,
            "branches": [{"when": "*", "end": "sale"}],
        },
        {
            "key": "callback",
            "kind": "date",
            "text": t["callback"],
            "branches": [{"when": "*", "end": "callback"}],
        },
    ]


def _survey(report: SeedReport, tenant: Tenant, name: str, steps: list[dict], **flags) -> Survey:
    survey = Survey.objects.filter(tenant=tenant, name=name).first()
    if survey is not None:
        return survey
    survey = Survey.objects.create(tenant=tenant, name=name, **flags)
    draft = survey_version_new_draft(survey=survey)
    survey_version_set_steps(version=draft, steps=steps)
    survey_version_publish(version=draft)
    report.count("surveys")
    return survey


@transaction.atomic
def seed(report: SeedReport) -> SeedReport:
    """Surveys for every demo tenant that exists: the CSAT survey asked by the IVR after calls
    to the tenant's voice queue and sent by link when a conversation on its first SMS or email
    channel is resolved, and a sales script whose outcomes are disposition codes."""
    for tenant in Tenant.objects.filter(slug__in=("nordlys", "wisla")):
        t = _texts(tenant)
        csat = _survey(report, tenant, t["csat_name"], _csat_steps(t), for_ivr=True, for_web=True)
        for code, label in (
            ("sale", t["sale"]),
            ("not_interested", t["not_interested"]),
            ("callback", t["callback_label"]),
        ):
            _, created = DispositionCode.objects.get_or_create(
                tenant=tenant, code=code, defaults={"label": label}
            )
            report.count("disposition codes", created)
        _survey(report, tenant, t["script_name"], _script_steps(t), for_agent=True)
        queues = Queue.objects.filter(tenant=tenant).order_by("-priority", "id")
        voice = next((q for q in queues if ChannelKind.VOICE in q.channel_kinds), None)
        if voice is not None:
            _, created = QueueSurvey.objects.get_or_create(
                queue=voice, defaults={"tenant": tenant, "survey": csat}
            )
            report.count("queue surveys", created)
        channel = (
            Channel.objects.filter(tenant=tenant, kind__in=("sms", "email"), is_active=True)
            .order_by("id")
            .first()
        )
        if channel is not None:
            _, created = ChannelSurvey.objects.get_or_create(
                channel=channel, defaults={"tenant": tenant, "survey": csat}
            )
            report.count("channel surveys", created)
    return report
