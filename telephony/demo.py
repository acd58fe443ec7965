"""The voice part of the demo data: a phone number and an IVR menu per demo tenant.

Idempotent like `crm.demo`: rows are looked up by their natural key (the number, the menu's
name) and created only when missing. Call after `crm.demo.seed`, which creates the tenants and
their queues.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from crm.demo import SeedReport
from crm.models import ChannelKind, Queue, Tenant
from telephony.models import IvrAction, IvrMenu, IvrOption, PhoneNumber


@dataclass(frozen=True)
class VoiceSpec:
    tenant_slug: str
    number: str
    number_name: str
    menu_name: str
    greeting: str


VOICE: list[VoiceSpec] = [
    VoiceSpec(
        tenant_slug="nordlys",
        number="+4570100100",
        number_name="Nordlys kundeservice",
        menu_name="Hovedmenu",
        greeting=(
            "Velkommen til Nordlys Energi. Tryk 1 for kundeservice, tryk 2 for at lægge en besked."
        ),
    ),
    VoiceSpec(
        tenant_slug="wisla",
        number="+48221001000",
        number_name="Wisła infolinia",
        menu_name="Menu główne",
        greeting=(
            "Witamy w Wisła Telekom. Naciśnij 1, aby połączyć się z obsługą klienta, "
            "naciśnij 2, aby zostawić wiadomość."
        ),
    ),
]


@transaction.atomic
def seed_voice(report: SeedReport) -> SeedReport:
    for spec in VOICE:
        tenant = Tenant.objects.filter(slug=spec.tenant_slug).first()
        if tenant is None:
            continue
        # A tenant has a handful of queues; channel_kinds is a JSON list, so pick in Python.
        queues = Queue.objects.filter(tenant=tenant).order_by("-priority", "id")
        voice_queue = next((q for q in queues if ChannelKind.VOICE in q.channel_kinds), None)
        if voice_queue is None:
            continue
        menu, created = IvrMenu.objects.get_or_create(
            tenant=tenant,
            name=spec.menu_name,
            # No business hours on the demo menu, so a demo call is answered at any hour;
            # managers attach a schedule in the admin to hear the after-hours branch.
            defaults={"greeting_text": spec.greeting},
        )
        report.count("IVR menus", created)
        if created:
            IvrOption.objects.create(
                menu=menu, digit="1", action=IvrAction.QUEUE, target_queue=voice_queue
            )
            IvrOption.objects.create(menu=menu, digit="2", action=IvrAction.VOICEMAIL)
        _, created = PhoneNumber.objects.get_or_create(
            number=spec.number,
            defaults={
                "tenant": tenant,
                "name": spec.number_name,
                "entry_menu": menu,
                "is_outbound_caller_id": True,
            },
        )
        report.count("phone numbers", created)
    return report
