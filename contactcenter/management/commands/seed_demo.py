"""`python manage.py seed_demo`: idempotent demo data for two client companies, across the apps,
and the logins to try it. The project package holds it because it spans apps (`crm` may not
import `telephony`): `crm.demo` seeds the CRM, `telephony.demo` the numbers and IVR menus,
`channels_inbox.demo` the inbox channels and sample conversations, `surveys.demo` a CSAT
survey and a call script.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from channels_inbox.demo import INBOX, seed_inbox
from crm.demo import DEMO_PASSWORD, SeedReport, seed
from surveys.demo import seed as seed_surveys
from telephony.demo import VOICE, seed_voice


class Command(BaseCommand):
    help = (
        "Load idempotent demo data (two tenants, agents, queues, contacts, tickets, "
        "phone numbers and IVR menus, inbox channels and conversations, surveys)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load the demo data even with DEBUG off (never on a real deployment).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            # The demo creates a superuser whose password is printed here and in the code.
            raise CommandError(
                "Refusing to load demo data with DEBUG off: it creates logins with a published "
                "password, a superuser among them. Use --force on a throw-away database."
            )
        report = seed_surveys(seed_inbox(seed_voice(seed(SeedReport()))))
        created = ", ".join(f"{n} {kind}" for kind, n in report.created.items())
        self.stdout.write(
            f"Demo data: created {created}." if created else "Demo data already present."
        )
        base = settings.PUBLIC_BASE_URL
        self.stdout.write("")
        self.stdout.write(f"  Open {base}/  (agents, supervisors)  and  {base}/admin/  (managers)")
        self.stdout.write(f"  API docs: {base}/api/docs/")
        self.stdout.write("")
        self.stdout.write(f"  {'username':<22} {'password':<16} {'role':<11} tenant")
        for login in report.logins:
            self.stdout.write(
                f"  {login.username:<22} {DEMO_PASSWORD:<16} {login.role:<11} {login.tenant}"
            )
        self.stdout.write("")
        self.stdout.write("  Demo phone numbers (call them with the simulated Twilio):")
        for spec in VOICE:
            self.stdout.write(f"  {spec.number:<14} {spec.number_name}")
        self.stdout.write(
            f"  e.g.  .venv/bin/python manage.py simulate_call --to {VOICE[0].number} "
            f"--from +4520304050 --press 1 --base-url {base}"
        )
        self.stdout.write("")
        self.stdout.write("  Demo inbox (the simulated providers post to the real webhooks):")
        for inbox in INBOX:
            self.stdout.write(f"  {inbox.email:<30} SMS/WhatsApp {inbox.number}")
        self.stdout.write(
            f"  e.g.  .venv/bin/python manage.py simulate_message --channel={INBOX[0].number} "
            f"--from +4520304050 --text 'Hej, min regning er for høj' --base-url {base}"
        )
        self.stdout.write("")
