"""The inbox part of the demo data: channels of every kind per demo tenant, canned responses,
and a few conversations that arrived through the real ingest path.

Idempotent like `crm.demo`: channels are looked up by (tenant, name), canned responses by
shortcut, and the sample messages carry fixed external ids, so `message_receive` recognises a
second run as a redelivery and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from django.db import transaction

from channels_inbox.email.ingest import email_ingest
from channels_inbox.inbound import InboundMessage
from channels_inbox.models import CannedResponse, Channel, InboxKind
from channels_inbox.services.receive import message_receive
from crm.demo import SeedReport
from crm.models import Queue, Tenant


@dataclass(frozen=True)
class InboxSpec:
    tenant_slug: str
    email: str
    number: str  # the tenant's demo number, also its SMS / WhatsApp sender
    page_id: str  # the Facebook page id of its Messenger channel
    chat_queue: str
    email_queue: str
    canned: tuple[tuple[str, str, str], ...]
    emails: tuple[tuple[str, str, str, str], ...]  # (from name, from address, subject, body)
    sms: tuple[tuple[str, str], ...]  # (from number, text)


SAMPLE_DATE = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)

INBOX: list[InboxSpec] = [
    InboxSpec(
        tenant_slug="nordlys",
        email="kundeservice@nordlys.example",
        number="+4570100100",
        page_id="100000000000001",
        chat_queue="Chat",
        email_queue="E-mail og breve",
        canned=(
            (
                "Tak for din henvendelse",
                "tak",
                "Hej {contact.first_name}\n\nTak for din "
                "henvendelse. Vi vender tilbage hurtigst muligt.\n\nVenlig hilsen\n"
                "{agent.first_name}, {tenant.name}",
            ),
            (
                "Måleraflæsning",
                "maaler",
                "Du kan indberette din måleraflæsning på nordlys.example/maaler.",
            ),
        ),
        emails=(
            (
                "Lærke Østergaard",
                "laerke@oestergaard.dk",
                "Spørgsmål til min årsopgørelse",
                "Hej Nordlys,\n\nMin årsopgørelse viser et forbrug på 4.812 kWh, men jeg har "
                "været bortrejst i tre måneder. Kan I se på det?\n\nVenlig hilsen\nLærke",
            ),
            (
                "Åge Møller",
                "aage.moeller@example.dk",
                "Flytning pr. 1. december",
                "Hej,\n\nJeg flytter til Ærøskøbing den 1. december. Hvad skal jeg gøre med "
                "min elaftale?\n\nMvh. Åge",
            ),
        ),
        sms=(("+4520112233", "Hej, er der strømafbrydelse i Aarhus C lige nu?"),),
    ),
    InboxSpec(
        tenant_slug="wisla",
        email="obsluga@wisla.example",
        number="+48221001000",
        page_id="100000000000002",
        chat_queue="Czat",
        email_queue="Poczta e-mail",
        canned=(
            (
                "Dziękujemy za wiadomość",
                "dziekujemy",
                "Dzień dobry {contact.first_name},\n\n"
                "dziękujemy za wiadomość. Odpowiemy najszybciej, jak to możliwe.\n\n"
                "Pozdrawiamy\n{agent.first_name}, {tenant.name}",
            ),
        ),
        emails=(
            (
                "Agnieszka Łęcka",
                "agnieszka.lecka@example.pl",
                "Błędna faktura za październik",
                "Dzień dobry,\n\nna fakturze za październik naliczono mi opłatę za roaming, "
                "choć nie wyjeżdżałam z Łodzi. Proszę o korektę.\n\nZ poważaniem\nAgnieszka Łęcka",
            ),
        ),
        sms=(("+48512345678", "Dzień dobry, czy mogę zmienić taryfę przez SMS?"),),
    ),
]


def _channel(
    report: SeedReport, tenant: Tenant, *, name: str, kind: str, queue: Queue, **fields
) -> Channel:
    channel, created = Channel.objects.get_or_create(
        tenant=tenant, name=name, defaults={"kind": kind, "queue": queue, **fields}
    )
    report.count("inbox channels", created)
    return channel


def _sample_email(channel: Channel, index: int, sender: tuple[str, str, str, str]) -> bytes:
    name, address, subject, body = sender
    message = EmailMessage()
    message["From"] = f"{name} <{address}>"
    message["To"] = channel.address
    message["Subject"] = subject
    # Fixed headers: the same bytes on every run, so a second seed is a redelivery (a reused
    # Message-ID with other content would be stored as a new message, as real mail needs).
    message["Date"] = format_datetime(SAMPLE_DATE + timedelta(minutes=17 * index))
    message["Message-ID"] = f"<demo-{channel.tenant_id}-{index}@{address.split('@')[1]}>"
    message.set_content(body)
    return message.as_bytes()


def seed_inbox(report: SeedReport) -> SeedReport:
    """Channels, canned responses and sample conversations for the demo tenants."""
    for spec in INBOX:
        tenant = Tenant.objects.filter(slug=spec.tenant_slug).first()
        if tenant is None:
            continue
        chat = Queue.objects.get(tenant=tenant, name=spec.chat_queue)
        mail = Queue.objects.get(tenant=tenant, name=spec.email_queue)
        with transaction.atomic():
            email = _channel(
                report,
                tenant,
                name="E-mail",
                kind=InboxKind.EMAIL,
                queue=mail,
                address=spec.email,
                fax_gateway_senders=f"fax@gateway.{spec.email.split('@')[1]}",
            )
            sms = _channel(
                report, tenant, name="SMS", kind=InboxKind.SMS, queue=chat, address=spec.number
            )
            _channel(
                report,
                tenant,
                name="WhatsApp",
                kind=InboxKind.WHATSAPP,
                queue=chat,
                address=f"whatsapp:{spec.number}",
            )
            _channel(
                report,
                tenant,
                name="Facebook Messenger",
                kind=InboxKind.MESSENGER,
                queue=chat,
                address=spec.page_id,
            )
            for name, kind in (
                (
                    "Kontaktformular" if spec.tenant_slug == "nordlys" else "Formularz",
                    InboxKind.WEBFORM,
                ),
                ("Post", InboxKind.POST),
                ("Fax", InboxKind.FAX),
            ):
                _channel(report, tenant, name=name, kind=kind, queue=mail, reply_channel=email)
            for title, shortcut, body in spec.canned:
                _, created = CannedResponse.objects.get_or_create(
                    tenant=tenant, shortcut=shortcut, defaults={"title": title, "body": body}
                )
                report.count("canned responses", created)
        for index, sender in enumerate(spec.emails):
            received = email_ingest(channel=email, raw=_sample_email(email, index, sender))
            report.count("inbox messages", received.created)
        for index, (number, text) in enumerate(spec.sms):
            received = message_receive(
                inbound=InboundMessage(
                    channel=sms,
                    external_id=f"SMdemo{tenant.pk:04d}{index:028d}",
                    from_address=number,
                    to=[spec.number],
                    text=text,
                    thread_id=number,
                )
            )
            report.count("inbox messages", received.created)
    return report
