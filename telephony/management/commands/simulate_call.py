"""`python manage.py simulate_call`: ring a running server as Twilio would, print what happens.

    python manage.py simulate_call --to +4570100100 --from +4520304050 --press 1 \\
        --hangup-after 90 --base-url http://127.0.0.1:8000

Webhooks are signed with TWILIO_WEBHOOK_AUTH_TOKEN over the public URL (PUBLIC_BASE_URL, or
--public-url) and sent to --base-url. Time is real (so a Celery worker can ring an agent while
the caller waits); --speed 10 makes waits ten times shorter.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telephony.simulator import CallScript, HttpTransport, RealClock, SimClock, SimulatedCall
from telephony.simulator.result import Exchange, Step, format_entry


class Command(BaseCommand):
    help = "Drive a simulated Twilio call against a running server and print the transcript."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--to", required=True, help="The dialled number (a PhoneNumber).")
        parser.add_argument("--from", dest="from_", required=True, help="The caller's number.")
        parser.add_argument(
            "--press",
            action="append",
            default=[],
            help="Digits for the next <Gather> (repeat for each menu; '' for silence).",
        )
        parser.add_argument(
            "--say", action="append", default=[], help="Words for the next speech <Gather>."
        )
        parser.add_argument(
            "--hangup-after", type=float, default=None, help="The caller hangs up after N s."
        )
        parser.add_argument(
            "--agent-no-answer",
            action="store_true",
            help="Dialled agents and numbers let it ring (default: they answer).",
        )
        parser.add_argument(
            "--agent-in-browser",
            action="store_true",
            help="A dialled agent's softphone (simulator mode) answers and hangs up, not us.",
        )
        parser.add_argument("--ring-seconds", type=float, default=3.0)
        parser.add_argument("--talk-seconds", type=float, default=10.0)
        parser.add_argument("--record-seconds", type=float, default=8.0)
        parser.add_argument(
            "--base-url",
            default=None,
            help="Where the server listens (default: the public URL), e.g. http://127.0.0.1:8000",
        )
        parser.add_argument(
            "--public-url", default=None, help="The URL signatures use (default PUBLIC_BASE_URL)."
        )
        parser.add_argument(
            "--speed", type=float, default=1.0, help="Run waits N times faster than real time."
        )
        parser.add_argument(
            "--simulated-time",
            action="store_true",
            help="Do not wait at all (no worker can react meanwhile; for IVR-only checks).",
        )

    def handle(self, *args, **options) -> None:
        if options["speed"] <= 0:
            raise CommandError("--speed must be positive.")
        public_url = (options["public_url"] or settings.PUBLIC_BASE_URL).rstrip("/")
        script = CallScript(
            presses=list(options["press"]),
            speech=list(options["say"]),
            hangup_after=options["hangup_after"],
            agent_answers=not options["agent_no_answer"],
            agent_in_browser=options["agent_in_browser"],
            ring_seconds=options["ring_seconds"],
            talk_seconds=options["talk_seconds"],
            recording_seconds=options["record_seconds"],
        )
        clock = SimClock() if options["simulated_time"] else RealClock(speed=options["speed"])
        call = SimulatedCall(
            transport=HttpTransport(connect_to=options["base_url"] or public_url),
            to=options["to"],
            from_=options["from_"],
            script=script,
            clock=clock,
            public_base_url=public_url,
            observer=self._show,
        )
        self.stdout.write(f"Calling {options['to']} from {options['from_']} ({call.call_sid})")
        try:
            result = call.run()
        except OSError as error:
            raise CommandError(
                f"Cannot reach {options['base_url'] or public_url}: {error}"
            ) from error
        failed = [e for e in result.exchanges if not 200 <= e.status < 300]
        self.stdout.write(
            f"Call {result.status} after {result.duration} s (ended by {result.ended_by}); "
            f"{len(result.exchanges)} requests, {len(failed)} failed."
        )
        if failed:
            raise CommandError(f"{len(failed)} webhook(s) did not answer 2xx.")

    def _show(self, entry: Exchange | Step) -> None:
        line = format_entry(entry)
        if isinstance(entry, Step) and entry.kind in ("say", "play"):
            self.stdout.write(self.style.SUCCESS(line))
        elif isinstance(entry, Exchange) and not 200 <= entry.status < 300:
            self.stdout.write(self.style.ERROR(line))
        else:
            self.stdout.write(line)
