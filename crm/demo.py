"""The CRM part of the demo data (`python manage.py seed_demo`): two client companies, their
people, queues, contacts and tickets, and the logins to try it.

Idempotent: every row is looked up by its natural key (tenant slug, username, queue name, a
contact's phone number, a ticket's subject) and created only when missing, so running it again
changes nothing and creates no duplicates. Rows a person changed since are left as they are
(including passwords).

Contacts, tickets and notes are written through `crm.services.contacts` / `crm.services.tickets`
(ticket numbers, normalised identities, timeline entries, audit trail, events); agents' first
presence through `crm.services.presence`. Configuration (tenants, users, memberships, skills,
teams, queues, business hours, agent profiles) has no services and is written with the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from django.db import transaction

from crm.identities import normalize_phone
from crm.models import (
    AgentProfile,
    AgentSkill,
    BusinessHours,
    BusinessHoursRule,
    ContactIdentity,
    CustomAttributeDefinition,
    Holiday,
    Membership,
    Organization,
    Presence,
    Queue,
    Role,
    Skill,
    Team,
    Tenant,
    Ticket,
    TicketPriority,
    TicketStatus,
    User,
)
from crm.services.contacts import contact_create
from crm.services.presence import agent_set_presence
from crm.services.tickets import note_add, ticket_create, ticket_transition

# One password for every demo login, printed at the end. Never use the demo data in production.
DEMO_PASSWORD = "demo-pass-123"
SUPERUSER = "admin"

WEEKDAYS = range(5)  # Monday to Friday

TENANTS: list[dict[str, Any]] = [
    {
        "slug": "nordlys",
        "name": "Nordlys Energi",
        "language": "da",
        "time_zone": "Europe/Copenhagen",
        "default_region": "DK",
        "greeting_name": "Nordlys Energi kundeservice",
        "people": {
            "agent1": ("Mette", "Sørensen"),
            "agent2": ("Søren", "Kjær"),
            "agent3": ("Åse", "Bækgaard"),
            "supervisor": ("Jørgen", "Løkke"),
            "manager": ("Ærtebjørg", "Holm"),
            "viewer": ("Birthe", "Frølund"),
        },
        "skills": ["dansk", "engelsk", "fakturering", "teknisk support"],
        "teams": ["Hold Øst", "Hold Vest"],
        "hours": {
            "name": "Åbningstider",
            "opens": time(8),
            "closes": time(16),
            "holidays": [(date(2026, 12, 24), "Juleaften"), (date(2026, 12, 25), "Juledag")],
        },
        "queues": [
            ("Kundeservice (telefon)", ["voice"], ["dansk"]),
            ("Chat", ["chat"], ["dansk"]),
            ("E-mail og breve", ["email"], ["fakturering"]),
        ],
        "organizations": ["Fjordvarme A/S", "Bølgeskolen Århus", "Øresund Bageri ApS"],
        "contacts": [
            ("Lærke", "Østergaard", "+45 20 11 22 33", "laerke@oestergaard.dk", 0),
            ("Bjørn", "Æbelø", "+45 21 44 55 66", "bjorn.aebeloe@example.dk", 1),
            ("Sørine", "Håkonsen", "+45 22 77 88 99", "soerine@example.dk", None),
            ("Nikolaj", "Ravnsbæk", "+45 23 10 20 30", "nikolaj@fjordvarme.dk", 0),
            ("Ida", "Brødsgaard", "+45 24 40 50 60", "ida@baageri.dk", 2),
            ("Åge", "Møller", "+45 25 70 80 90", "aage.moeller@example.dk", None),
        ],
        "tickets": [
            ("Regningen for oktober er for høj", TicketStatus.NEW, 0, "E-mail og breve"),
            ("Måleren viser forkert forbrug", TicketStatus.OPEN, 1, "Kundeservice (telefon)"),
            ("Flytning til ny adresse i Århus", TicketStatus.PENDING, 2, "Chat"),
            ("Ønsker grøn strøm-aftale", TicketStatus.ON_HOLD, 3, "E-mail og breve"),
            ("Strømafbrydelse på Østerbro", TicketStatus.SOLVED, 4, "Kundeservice (telefon)"),
            ("Opsigelse af aftale", TicketStatus.CLOSED, 5, "E-mail og breve"),
        ],
        "notes": [
            "Kunden ringede tilbage; venter på måleraflæsning.",
            "Sendt vejledning om flytteformular på e-mail.",
        ],
    },
    {
        "slug": "wisla",
        "name": "Wisła Telekom",
        "language": "pl",
        "time_zone": "Europe/Warsaw",
        "default_region": "PL",
        "greeting_name": "Wisła Telekom, obsługa klienta",
        "people": {
            "agent1": ("Łukasz", "Wójcik"),
            "agent2": ("Zofia", "Dąbrowska"),
            "agent3": ("Małgorzata", "Żółkiewska"),
            "supervisor": ("Grzegorz", "Brzęczyszczykiewicz"),
            "manager": ("Jolanta", "Ślęzak"),
            "viewer": ("Paweł", "Kołodziej"),
        },
        "skills": ["polski", "angielski", "rozliczenia", "wsparcie techniczne"],
        "teams": ["Zespół Kraków", "Zespół Gdańsk"],
        "hours": {
            "name": "Godziny pracy",
            "opens": time(8),
            "closes": time(18),
            "holidays": [
                (date(2026, 11, 11), "Narodowe Święto Niepodległości"),
                (date(2026, 12, 25), "Boże Narodzenie"),
            ],
        },
        "queues": [
            ("Obsługa klienta (telefon)", ["voice"], ["polski"]),
            ("Czat", ["chat"], ["polski"]),
            ("Poczta e-mail", ["email"], ["rozliczenia"]),
        ],
        "organizations": ["Żabka Łódź sp. z o.o.", "Szkoła Jaźń", "Piekarnia Ćma"],
        "contacts": [
            ("Agnieszka", "Łęcka", "+48 512 345 678", "agnieszka.lecka@example.pl", 0),
            ("Michał", "Świątek", "+48 601 234 567", "michal.swiatek@example.pl", 1),
            ("Jadwiga", "Źrebiec", "+48 698 765 432", "jadwiga@example.pl", None),
            ("Przemysław", "Gąsior", "+48 789 012 345", "przemek@zabka-lodz.pl", 0),
            ("Katarzyna", "Nowak-Ćwik", "+48 503 111 222", "kasia@piekarnia-cma.pl", 2),
            ("Ryszard", "Mączyński", "+48 665 333 444", "ryszard@example.pl", None),
        ],
        "tickets": [
            ("Brak zasięgu w Zakopanem", TicketStatus.NEW, 0, "Obsługa klienta (telefon)"),
            ("Błędna faktura za wrzesień", TicketStatus.OPEN, 1, "Poczta e-mail"),
            ("Przeniesienie numeru do innej sieci", TicketStatus.PENDING, 2, "Czat"),
            ("Zmiana taryfy na światłowód", TicketStatus.ON_HOLD, 3, "Poczta e-mail"),
            ("Router nie łączy się z siecią", TicketStatus.SOLVED, 4, "Czat"),
            ("Rezygnacja z usługi", TicketStatus.CLOSED, 5, "Poczta e-mail"),
        ],
        "notes": [
            "Klient prosi o kontakt po godzinie 16:00.",
            "Wysłano instrukcję konfiguracji routera.",
        ],
    },
]

# Agents start in these states, so the wallboard has something to show.
FIRST_PRESENCE = {
    "agent1": (Presence.AVAILABLE, ""),
    "agent2": (Presence.BREAK, "lunch"),
    "agent3": (Presence.OFFLINE, ""),
}


@dataclass
class Login:
    username: str
    role: str
    tenant: str


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    logins: list[Login] = field(default_factory=list)

    def count(self, kind: str, created: bool = True) -> None:
        if created:
            self.created[kind] = self.created.get(kind, 0) + 1


def _user(
    report: SeedReport, username: str, first: str, last: str, **flags: Any
) -> tuple[User, bool]:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "email": f"{username}@example.test",
            **flags,
        },
    )
    if created:
        # Only on creation: a password someone changed since is theirs to keep.
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    report.count("users", created)
    return user, created


def seed_tenant(spec: dict[str, Any], report: SeedReport) -> Tenant:
    tenant, created = Tenant.objects.get_or_create(
        slug=spec["slug"],
        defaults={
            key: spec[key]
            for key in ("name", "language", "time_zone", "default_region", "greeting_name")
        },
    )
    report.count("tenants", created)
    slug = spec["slug"]

    # People and their roles. Managers are staff: Django admits only staff to /admin/.
    users: dict[str, User] = {}
    roles = {
        "agent1": Role.AGENT,
        "agent2": Role.AGENT,
        "agent3": Role.AGENT,
        "supervisor": Role.SUPERVISOR,
        "manager": Role.MANAGER,
        "viewer": Role.VIEWER,
    }
    for key, (first, last) in spec["people"].items():
        user, _ = _user(
            report,
            f"{slug}-{key}",
            first,
            last,
            is_staff=roles[key] == Role.MANAGER,
            time_zone=spec["time_zone"],
            language=spec["language"],
        )
        _, created = Membership.objects.get_or_create(
            user=user, tenant=tenant, defaults={"role": roles[key]}
        )
        report.count("memberships", created)
        users[key] = user
        report.logins.append(Login(user.username, roles[key], tenant.name))

    skills = {}
    for name in spec["skills"]:
        skills[name], created = Skill.objects.get_or_create(tenant=tenant, name=name)
        report.count("skills", created)

    teams = []
    for name in spec["teams"]:
        team, created = Team.objects.get_or_create(
            tenant=tenant, name=name, defaults={"supervisor": users["supervisor"]}
        )
        report.count("teams", created)
        teams.append(team)

    hours_spec = spec["hours"]
    hours, created = BusinessHours.objects.get_or_create(
        tenant=tenant, name=hours_spec["name"], defaults={"time_zone": spec["time_zone"]}
    )
    report.count("business hours", created)
    for weekday in WEEKDAYS:
        BusinessHoursRule.objects.get_or_create(
            schedule=hours,
            weekday=weekday,
            opens=hours_spec["opens"],
            defaults={"closes": hours_spec["closes"]},
        )
    for day, name in hours_spec["holidays"]:
        Holiday.objects.get_or_create(schedule=hours, date=day, defaults={"name": name})

    queues: dict[str, Queue] = {}
    for priority, (name, kinds, required) in enumerate(reversed(spec["queues"])):
        queue, created = Queue.objects.get_or_create(
            tenant=tenant,
            name=name,
            defaults={"channel_kinds": kinds, "priority": priority, "business_hours": hours},
        )
        if created:
            queue.required_skills.set([skills[s] for s in required])
        report.count("queues", created)
        queues[name] = queue

    # Agents: every agent speaks the tenant's language; levels differ so routing has a
    # tie-break to show.
    agents = []
    for index, key in enumerate(("agent1", "agent2", "agent3")):
        agent, created = AgentProfile.objects.get_or_create(
            tenant=tenant,
            user=users[key],
            defaults={
                "capacity": {"voice": 1, "chat": 3, "email": 5},
                "works_remotely": index == 2,
            },
        )
        report.count("agents", created)
        agents.append(agent)
        if not created:
            continue
        for skill_index, skill in enumerate(skills.values()):
            if skill_index == 0 or (skill_index + index) % 2 == 0:
                AgentSkill.objects.create(agent=agent, skill=skill, level=10 - index * 2)
        agent.teams.set([teams[index % len(teams)]])
        agent.queues.set(queues.values())
        presence, reason = FIRST_PRESENCE[key]
        if presence != Presence.OFFLINE:
            agent_set_presence(agent=agent, presence=presence, reason=reason)

    _, created = CustomAttributeDefinition.objects.get_or_create(
        tenant=tenant,
        key="customer_number",
        defaults={"label": "Kundenummer" if slug == "nordlys" else "Numer klienta"},
    )
    report.count("custom attributes", created)

    organizations = []
    for name in spec["organizations"]:
        organization, created = Organization.objects.get_or_create(tenant=tenant, name=name)
        report.count("organizations", created)
        organizations.append(organization)

    # Contacts, through the service: identities normalised, timeline started, audited.
    contacts = []
    for number, (first, last, phone, email, org_index) in enumerate(spec["contacts"], start=1):
        normalised = normalize_phone(phone, region=tenant.default_region)
        existing = (
            ContactIdentity.objects.filter(tenant=tenant, kind="phone", value=normalised)
            .select_related("contact")
            .first()
        )
        if existing is not None:
            contacts.append(existing.contact)
            continue
        contact = contact_create(
            tenant=tenant,
            actor=None,
            first_name=first,
            last_name=last,
            phones=[phone],
            emails=[email],
            organization=organizations[org_index] if org_index is not None else None,
            language=spec["language"],
            time_zone=spec["time_zone"],
            custom_attributes={"customer_number": f"{slug.upper()}-{1000 + number}"},
            tags=["vip"] if number == 1 else [],
            consent_marketing=number % 2 == 0,
        )
        report.count("contacts")
        contacts.append(contact)

    # Tickets, through the service: numbered, moved through allowed transitions, noted.
    for index, (subject, status, contact_index, queue_name) in enumerate(spec["tickets"]):
        if Ticket.objects.filter(tenant=tenant, subject=subject).exists():
            continue
        ticket = ticket_create(
            tenant=tenant,
            actor=None,
            subject=subject,
            contact=contacts[contact_index],
            queue=queues[queue_name],
            assignee=users[f"agent{index % 3 + 1}"] if status != TicketStatus.NEW else None,
            priority=TicketPriority.HIGH if index == 1 else TicketPriority.NORMAL,
        )
        report.count("tickets")
        if status != TicketStatus.NEW:
            ticket_transition(ticket=ticket, status=status, actor=None)
        if index in (1, 2):
            note_add(actor=None, body=spec["notes"][index - 1], ticket=ticket)
            report.count("notes")
    return tenant


def seed(report: SeedReport) -> SeedReport:
    with transaction.atomic():
        _user(report, SUPERUSER, "Demo", "Administrator", is_staff=True, is_superuser=True)
        report.logins.insert(0, Login(SUPERUSER, "superuser", "all tenants"))
        for spec in TENANTS:
            seed_tenant(spec, report)
    return report
