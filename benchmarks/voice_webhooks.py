"""Incoming-call webhook throughput under gunicorn, next to a bare one-query Django view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cc_bench \
        .venv/bin/python benchmarks/voice_webhooks.py          # or: make bench-voice

Needs PostgreSQL (SQLite is refused) and `wrk` (Debian: `apt-get install -y wrk`). Redis comes
from REDIS_URL, else an embedded Redis is started for the run, as `make run` does.

What it does, all on this machine's loopback:

1. Migrates the database and seeds, through the ORM and the CRM services, a tenant
   ("bench-voice") with a phone number whose entry IVR menu has three options and a business-
   hours schedule (open around the clock, so its rules are read on every call), and 50 contacts
   whose numbers call in (screen pop: half the callers are known, half are not). Calls left by an
   earlier run are deleted first.
2. Starts two gunicorn servers the production way: sync workers, DEBUG off, SECRET_KEY and
   TWILIO_SIMULATOR_AUTH_TOKEN set explicitly, PUBLIC_BASE_URL set to the URL that is signed,
   persistent database connections (CONN_MAX_AGE). One serves the product
   (`contactcenter.wsgi`); the other serves `benchmarks/baseline_app` — the product's settings
   and middleware with a URLconf holding one bare view that does a primary-key query and
   returns fixed TwiML. The baseline is never mounted in the product.
3. Pre-computes signed incoming-call bodies in Python, each with its own CallSid (a repeated
   CallSid would take the duplicate-delivery path) and `X-Twilio-Signature` computed with the
   twilio SDK's RequestValidator over PUBLIC_BASE_URL + "/hooks/twilio/voice/" and the
   parameters, as Twilio signs. wrk's Lua script (written next to the bodies in a temporary
   folder) sends them in turn, so every request is a new call that is verified, creates its
   Call row and gets IVR TwiML back.
4. Warms each server up, then drives each in turn (so neither competes with the other for the
   two cores) with 32 connections for 20 s, and prints requests/s, p50 and p99 latency, the
   ratio product/baseline, and whether the target holds: ratio >= 0.5 and product p99 <= 50 ms.
   It then checks that every request the product answered created exactly one Call, and that
   none was refused (non-2xx answers are counted and reported).

Why wrk and not a Python client: on two cores a Python load generator needs about a core of its
own to keep 32 connections busy, and takes it from the servers being measured; wrk needs a
fraction of that. Both servers are measured with the same client, the same bodies and the same
number of workers.

Workers: 2 x cores + 1 sync workers (gunicorn's advice; 5 on a 2-core machine) by default,
the same for both servers; BENCH_WORKERS overrides it. On the shared 2-core development machine
3, 5 and 9 workers measured within the noise of each other, so the default stands. Calls created
exceed the requests wrk counts by up to the number of connections: requests still in flight
when wrk stops are served but not counted.

Options (environment): BENCH_DURATION (default 20 s), BENCH_CONNECTIONS (32), BENCH_WORKERS,
BENCH_THREADS (wrk threads, default 2), BENCH_WARMUP (3 s).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DURATION = int(os.environ.get("BENCH_DURATION", "20"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
WRK_THREADS = min(CONNECTIONS, int(os.environ.get("BENCH_THREADS", "2")))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
# Enough distinct calls for 3,000 requests/s over the measured run; the warm-up has its own.
BODIES = max(60_000, 3_000 * DURATION)
WARMUP_BODIES = max(6_000, 2_000 * WARMUP)

TENANT_SLUG = "bench-voice"
NUMBER = "+4570999000"
KNOWN_CALLERS = 50
UNKNOWN_CALLERS = 50
ACCOUNT_SID = "AC" + "5" * 32
PATH = "/hooks/twilio/voice/"
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0

LUA = r"""
-- Each wrk thread sends its share of the pre-signed bodies in turn (line n goes to thread
-- n mod threads), so no CallSid is sent twice while the bodies last.
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  local threads = tonumber(args[2])
  prepared = {}
  local n = 0
  for line in io.lines(args[1]) do
    if n % threads == tid then
      local signature, body = line:match("^(%S+) (%S+)$")
      prepared[#prepared + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body)
    end
    n = n + 1
  end
  index = 0
end

function request()
  index = index % #prepared + 1
  return prepared[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"max_us": %d, "status": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL database, e.g.")
        print("  DATABASE_URL=postgres://postgres@127.0.0.1:5432/cc_bench")
        print("SQLite is refused: its timings say nothing about production.")
        return 2
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is needed to generate the load: apt-get install -y wrk")
        return 2

    app_port, baseline_port = free_port(), free_port()
    # Production settings, for this process (seeding, signing) and the servers alike.
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + secrets.token_urlsafe(40),
            "TWILIO_SIMULATOR_AUTH_TOKEN": "bench-" + secrets.token_urlsafe(24),
            "TWILIO_ACCOUNT_SID": "",
            "TWILIO_AUTH_TOKEN": "",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{app_port}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
        }
    )
    redis_server = None
    if not os.environ.get("REDIS_URL"):
        from contactcenter.devstack import EmbeddedRedis
        from contactcenter.settings import RUN_DIR

        redis_server = EmbeddedRedis(RUN_DIR / "bench-voice-redis.sock").start()
        os.environ["REDIS_URL"] = redis_server.url
    try:
        return run(wrk=wrk, app_port=app_port, baseline_port=baseline_port)
    finally:
        if redis_server is not None:
            redis_server.stop()


def run(*, wrk: str, app_port: int, baseline_port: int) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        print("DATABASE_URL does not point at PostgreSQL.")
        return 2
    call_command("migrate", verbosity=0, skip_checks=True)
    tenant_id, callers = seed()
    connection.close()  # the servers get the database to themselves

    with tempfile.TemporaryDirectory(prefix="bench-voice-") as folder:
        work = Path(folder)
        script = work / "incoming.lua"
        script.write_text(LUA)
        run_prefix = secrets.token_hex(4)
        warm_file = write_bodies(work / "warmup.txt", run_prefix + "0", WARMUP_BODIES, callers)
        bodies_file = write_bodies(work / "bodies.txt", run_prefix + "1", BODIES, callers)

        ports = {"baseline": baseline_port, "product": app_port}
        servers = {
            "baseline": start_gunicorn(
                "benchmarks.baseline_app.settings",
                baseline_port,
                work / "baseline.log",
                {"BENCH_BASELINE_PK": str(tenant_id)},
            ),
            "product": start_gunicorn("contactcenter.settings", app_port, work / "product.log", {}),
        }
        results: dict[str, dict[str, float]] = {}
        try:
            for name, process in servers.items():
                wait_until_up(ports[name], process, work / f"{name}.log")
            check_answers(app_port, baseline_port, warm_file)
            load_before = os.getloadavg()[0]
            for name, port in ports.items():
                drive(wrk, script, port, warm_file, WARMUP)
                results[name] = drive(wrk, script, port, bodies_file, DURATION)
            load_after = os.getloadavg()[0]
        finally:
            for process in servers.values():
                stop(process)

    created = calls_created(tenant_id, "CA" + run_prefix + "1")
    return report(results, created, load_before, load_after)


def seed() -> tuple[int, list[str]]:
    """The tenant, its number, IVR menu, schedule and callers; returns (tenant id, callers)."""
    from datetime import time as clock

    from django.db import transaction

    from crm.models import (
        BusinessHours,
        BusinessHoursRule,
        ChannelKind,
        Contact,
        Queue,
        Tenant,
        TimelineEntry,
    )
    from crm.services.contacts import contact_create
    from telephony.models import Call, IvrAction, IvrMenu, IvrOption, PhoneNumber

    tenant, _ = Tenant.objects.get_or_create(
        slug=TENANT_SLUG, defaults={"name": "Voice benchmark", "language": "da"}
    )
    known = [f"+452030{4000 + n}" for n in range(KNOWN_CALLERS)]
    unknown = [f"+452031{4000 + n}" for n in range(UNKNOWN_CALLERS)]
    started = time.perf_counter()
    deleted, _ = Call.objects.filter(tenant=tenant).delete()
    deleted += TimelineEntry.objects.filter(tenant=tenant).delete()[0]
    if deleted:
        print(f"deleted {deleted:,} rows of an earlier run ({time.perf_counter() - started:.0f} s)")
    if PhoneNumber.objects.filter(number=NUMBER).exists():
        return tenant.pk, known + unknown
    with transaction.atomic():
        queue = Queue.objects.create(
            tenant=tenant, name="Kundeservice", channel_kinds=[ChannelKind.VOICE]
        )
        schedule = BusinessHours.objects.create(
            tenant=tenant, name="Always", time_zone="Europe/Copenhagen"
        )
        BusinessHoursRule.objects.bulk_create(
            BusinessHoursRule(schedule=schedule, weekday=day, opens=clock(0), closes=clock(0))
            for day in range(7)
        )
        menu = IvrMenu.objects.create(
            tenant=tenant,
            name="Hovedmenu",
            greeting_text="Velkommen. Tryk 1 for kundeservice, 2 for at lægge en besked.",
            business_hours=schedule,
        )
        IvrOption.objects.create(menu=menu, digit="1", action=IvrAction.QUEUE, target_queue=queue)
        IvrOption.objects.create(menu=menu, digit="2", action=IvrAction.VOICEMAIL)
        IvrOption.objects.create(menu=menu, digit="9", action=IvrAction.HANGUP)
        PhoneNumber.objects.create(
            tenant=tenant,
            number=NUMBER,
            name="Benchmark hotline",
            entry_menu=menu,
            business_hours=schedule,
        )
        if not Contact.objects.filter(tenant=tenant).exists():
            for n, phone in enumerate(known):
                contact_create(
                    tenant=tenant, actor=None, first_name="Caller", last_name=str(n), phones=[phone]
                )
    return tenant.pk, known + unknown


def write_bodies(path: Path, prefix: str, count: int, callers: list[str]) -> Path:
    """`count` incoming-call requests, one a line: "<X-Twilio-Signature> <form body>"."""
    from django.conf import settings
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(settings.TWILIO_WEBHOOK_AUTH_TOKEN)
    url = settings.PUBLIC_BASE_URL + PATH
    width = 32 - len(prefix)
    with path.open("w") as out:
        for n in range(count):
            caller = callers[n % len(callers)]
            params = {
                "CallSid": f"CA{prefix}{n:0{width}x}",
                "AccountSid": ACCOUNT_SID,
                "From": caller,
                "To": NUMBER,
                "Caller": caller,
                "Called": NUMBER,
                "CallStatus": "ringing",
                "Direction": "inbound",
                "ApiVersion": "2010-04-01",
                "FromCountry": "DK",
                "ToCountry": "DK",
            }
            out.write(f"{validator.compute_signature(url, params)} {urlencode(params)}\n")
    return path


def start_gunicorn(settings_module: str, port: int, log: Path, extra: dict[str, str]):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, **extra}
    command = [
        str(BASE_DIR / ".venv" / "bin" / "gunicorn"),
        "contactcenter.wsgi:application",
        "--chdir", str(BASE_DIR),
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(WORKERS),
        "--worker-class", "sync",
        "--backlog", "2048",
        "--log-level", "warning",
        "--error-logfile", str(log),
    ]  # fmt: skip
    if not Path(command[0]).exists():
        command[0] = shutil.which("gunicorn") or "gunicorn"
    with log.open("ab") as output:
        return subprocess.Popen(
            command, env=env, cwd=BASE_DIR, start_new_session=True, stdout=output, stderr=output
        )


def wait_until_up(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{PATH}", timeout=2)
        except urllib.error.HTTPError:
            return  # it answers (405: GET is not allowed)
        except OSError:
            time.sleep(0.2)
            continue
        return
    raise SystemExit(f"gunicorn on port {port} did not come up in {timeout:.0f} s")


def check_answers(app_port: int, baseline_port: int, bodies: Path) -> None:
    """One signed request to each server before timing: both must answer 200 with TwiML, the
    product with its IVR menu (a 403 here means the signed URL and PUBLIC_BASE_URL differ)."""
    signature, body = bodies.read_text().split("\n", 1)[0].split(" ")
    for port, expect in ((app_port, "<Gather"), (baseline_port, "<Say")):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{PATH}",
            data=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        if response.status != 200 or expect not in text:
            raise SystemExit(f"port {port} answered {response.status}: {text[:300]}")


def drive(wrk: str, script: Path, port: int, bodies: Path, seconds: int) -> dict[str, float]:
    command = [
        wrk, f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(script), f"http://127.0.0.1:{port}{PATH}", "--", str(bodies), str(WRK_THREADS),
    ]  # fmt: skip
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 120
    )
    line = next(line for line in output.stdout.splitlines() if line.startswith("{"))
    result = json.loads(line)
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def calls_created(tenant_id: int, sid_prefix: str) -> int:
    from telephony.models import Call

    return Call.objects.filter(tenant_id=tenant_id, sid__startswith=sid_prefix).count()


def report(
    results: dict[str, dict[str, float]], created: int, load_before: float, load_after: float
) -> int:
    base, app = results["baseline"], results["product"]
    print()
    print(f"{CONNECTIONS} connections, {DURATION} s each, gunicorn sync workers: {WORKERS}, "
          f"wrk threads: {WRK_THREADS}, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'server':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'errors':>8}")
    for label, r in (("bare view (1 PK query)", base), ("incoming-call webhook", app)):
        errors = r["status"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
        print(
            f"{label:<34}{r['rps']:>10.0f}{r['p50_us'] / 1000:>10.1f}{r['p99_us'] / 1000:>10.1f}"
            f"{r['max_us'] / 1000:>10.1f}{errors:>8}"
        )
    ratio = app["rps"] / base["rps"]
    p99 = app["p99_us"] / 1000
    print(f"throughput ratio webhook/bare: {ratio:.2f}")
    print(f"calls created by the webhook run: {created:,} (requests answered: {app['requests']:,})")
    if app["requests"] > BODIES:
        print("warning: more requests than prepared bodies; later ones were duplicate deliveries")
    print(f"load average (1 min) before/after: {load_before:.2f} / {load_after:.2f}")
    ok = ratio >= TARGET_RATIO and p99 <= TARGET_P99_MS and app["status"] == 0
    print(
        f"target ratio >= {TARGET_RATIO} and p99 <= {TARGET_P99_MS:.0f} ms: "
        f"{'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
