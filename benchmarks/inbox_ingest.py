"""Inbound message ingestion through the full path, next to a bulk insert of the same rows;
then the agent's inbox first page at 1,000,000 messages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cc_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python benchmarks/inbox_ingest.py

Needs PostgreSQL (SQLite is refused) and Redis (events fan out to the channel layer, as in
production). Part 1 ingests BENCH_MESSAGES (default 20,000) realistic messages in one process,
one transaction each: MIME email (multipart/alternative with HTML, Danish and Polish text,
RFC 2047 subjects, some with a PDF attachment, some replies threading by In-Reply-To) through
`email_ingest`, and SMS through `message_receive` — contact lookup or creation, threading,
tickets, routing, timeline, events, attachments on disk (a temporary MEDIA_ROOT). It prints
messages/second and the ratio to a `bulk_create` of the same message rows in the same run
(target >= 300 msg/s). Part 2 tops the tenant up to BENCH_TOTAL (default 1,000,000) messages in
conversations generated server-side, then times the agent's inbox first page
(`channels_inbox.selectors.inbox_for_agent`, and the queue's unassigned page) and prints
p50/p99 and the query count (target < 100 ms).

Re-runs reuse the generated rows of part 2; part 1 always ingests fresh messages.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
os.environ.setdefault("DEBUG", "true")

TENANT_SLUG = "bench-inbox"
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "20000"))
TOTAL = int(os.environ.get("BENCH_TOTAL", "1000000"))
PAGE_RUNS = int(os.environ.get("BENCH_PAGE_RUNS", "300"))
PER_CONVERSATION = 5
AGENTS = 20
SENDERS = 4000
PHONES = 3000
PDF = b"%PDF-1.4\n" + b"0 0 0 RG 1 0 0 1 72 720 Tm (Regning) Tj\n" * 120 + b"%%EOF\n"
BODIES = [
    "Hej Nordlys,\n\nMin måler på Ærvægen {n} viser et forbrug, der ikke passer. "
    "Kan I se på det? Beløbet på regningen er ændret.\n\nVenlig hilsen\n{name}",
    "Dzień dobry,\n\nProszę o korektę rachunku nr {n}: zażółć gęślą jaźń. "
    "Płatność została już wysłana.\n\nPozdrawiam\n{name}",
    "Hello,\n\nI moved to a new address last month and my invoice {n} still shows the old "
    "one. Please update it.\n\nThanks,\n{name}",
]
NAMES = ["Søren Æblerød", "Ida Kragh", "Zofia Łącka", "Piotr Wiśniewski", "Mads Holm", "Anne Berg"]


def main() -> int:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL database, e.g.")
        print("  DATABASE_URL=postgres://postgres@127.0.0.1:5432/cc_bench")
        print("SQLite is refused: its timings say nothing about production.")
        return 2

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        print("DATABASE_URL does not point at PostgreSQL.")
        return 2
    call_command("migrate", verbosity=0, skip_checks=True)
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-inbox-media-")

    setup = prepare()
    load_before = os.getloadavg()[0]
    if MESSAGES > 0:  # BENCH_MESSAGES=0: only the inbox page (part 2)
        ingest(setup)
    inbox_page(setup)
    print(
        f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    return 0


def prepare() -> dict:
    from channels_inbox.models import Channel
    from crm.models import AgentProfile, Membership, Queue, Role, Tenant, User

    tenant, _ = Tenant.objects.get_or_create(
        slug=TENANT_SLUG, defaults={"name": "Inbox benchmark", "default_region": "DK"}
    )
    queue, _ = Queue.objects.get_or_create(
        tenant=tenant, name="Bench inbox", defaults={"channel_kinds": ["chat", "email"]}
    )
    email, _ = Channel.objects.get_or_create(
        tenant=tenant,
        kind="email",
        name="Bench mail",
        defaults={"queue": queue, "address": "kundeservice@bench.example"},
    )
    sms, _ = Channel.objects.get_or_create(
        tenant=tenant,
        kind="sms",
        name="Bench SMS",
        defaults={"queue": queue, "address": "+4570000000"},
    )
    agents = []
    for index in range(AGENTS):
        user, _ = User.objects.get_or_create(username=f"bench-inbox-agent-{index}")
        Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": Role.AGENT})
        AgentProfile.objects.get_or_create(user=user, tenant=tenant)
        agents.append(user)
    return {"tenant": tenant, "queue": queue, "email": email, "sms": sms, "agents": agents}


# --- part 1: ingestion -----------------------------------------------------------------------


def build_email(rng: random.Random, run: str, n: int, earlier: list[str]) -> tuple[bytes, str]:
    sender = rng.randrange(SENDERS)
    name = rng.choice(NAMES)
    msg = EmailMessage()
    msg["From"] = f"{name} <customer{sender}@mail{sender % 50}.example>"
    msg["To"] = "Nordlys Kundeservice <kundeservice@bench.example>"
    message_id = make_msgid(idstring=f"{run}.{n}", domain="mail.example")
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(django_now())
    if earlier and rng.random() < 0.3:
        parent = rng.choice(earlier)
        msg["In-Reply-To"] = parent
        msg["References"] = parent
        msg["Subject"] = "SV: Spørgsmål om regning"
    else:
        msg["Subject"] = rng.choice(
            ["Spørgsmål om måler", "Reklamacja \u2013 rachunek", "New address"]
        )
    text = rng.choice(BODIES).format(n=n, name=name)
    msg.set_content(text)
    msg.add_alternative(
        "<html><body>"
        + "".join(f"<p>{line}</p>" for line in text.splitlines() if line)
        + "<script>x()</script></body></html>",
        subtype="html",
    )
    if rng.random() < 0.2:
        msg.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"regning-{n}.pdf")
    return msg.as_bytes(), message_id


def django_now():
    from django.utils import timezone

    return timezone.now()


def ingest(setup: dict) -> None:
    from django.db import connection, reset_queries, transaction

    from channels_inbox.email.ingest import email_ingest
    from channels_inbox.inbound import InboundMessage
    from channels_inbox.models import Message
    from channels_inbox.services.receive import message_receive

    rng = random.Random()
    run = f"{int(time.time())}"
    # Build the inputs first: the timing is of ingestion, not of composing test mail.
    work: list[tuple[str, object]] = []
    earlier: list[str] = []
    for n in range(MESSAGES):
        if rng.random() < 0.55:
            raw, message_id = build_email(rng, run, n, earlier)
            earlier.append(message_id)
            work.append(("email", raw))
        else:
            phone = f"+48600{rng.randrange(PHONES):06d}"
            work.append(
                (
                    "sms",
                    {
                        "external_id": f"SM{run}{n:012d}",
                        "from_address": phone,
                        "thread_id": phone,
                        "to": [setup["sms"].address],
                        "text": f"Hej, min strøm er gået på adresse {n}. Hvornår kommer den igen?",
                    },
                )
            )
    emails = sum(1 for kind, _ in work if kind == "email")
    print(f"part 1: ingesting {MESSAGES:,} messages ({emails:,} MIME email, "
          f"{MESSAGES - emails:,} SMS) one transaction each …")  # fmt: skip
    first_id = (Message.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    started = time.perf_counter()
    queries = 0
    for index, (kind, item) in enumerate(work):
        if index % 100 == 0:
            queries += len(connection.queries)
            reset_queries()  # DEBUG keeps a query log; keep it from growing
        if index and index % 2000 == 0:
            so_far = time.perf_counter() - started
            print(f"  {index:,} ingested, {index / so_far:.0f} msg/s so far", flush=True)
        if kind == "email":
            email_ingest(channel=setup["email"], raw=item)
        else:
            message_receive(inbound=InboundMessage(channel=setup["sms"], **item))
    elapsed = time.perf_counter() - started
    rate = MESSAGES / elapsed
    queries += len(connection.queries)

    # Baseline: the same message rows, bulk-inserted (no parsing, contacts, threading,
    # tickets, routing, events or files).
    rows = list(Message.objects.filter(tenant=setup["tenant"], id__gte=first_id))
    for row in rows:
        row.pk = None
        row.external_id = f"bulk-{row.external_id}"[:500]
    started = time.perf_counter()
    with transaction.atomic():
        Message.objects.bulk_create(rows, batch_size=1000)
    bulk_elapsed = time.perf_counter() - started
    bulk_rate = len(rows) / bulk_elapsed
    Message.objects.filter(tenant=setup["tenant"], external_id__startswith="bulk-").delete()

    print(f"{'path':<34}{'messages':>10}{'seconds':>10}{'msg/s':>10}")
    print(f"{'full ingest (email_ingest/receive)':<34}{MESSAGES:>10,}{elapsed:>10.1f}{rate:>10.0f}")
    print(f"{'bulk_create of the same rows':<34}{len(rows):>10,}{bulk_elapsed:>10.1f}"
          f"{bulk_rate:>10.0f}")  # fmt: skip
    print(f"ratio full/bulk: {rate / bulk_rate:.3f} ({bulk_rate / rate:.0f}x slower than a bulk "
          f"insert)")  # fmt: skip
    print(f"queries per message (BEGIN/COMMIT included): {queries / MESSAGES:.1f}")
    print(f"target >= 300 msg/s: {'met' if rate >= 300 else 'NOT met'}")


# --- part 2: the inbox at 1,000,000 messages -------------------------------------------------


def top_up(setup: dict) -> None:
    """Generate conversations of PER_CONVERSATION messages each, server-side, until the tenant
    holds TOTAL messages. Contacts are reused from part 1; 15 % of conversations are open,
    5 % pending, the rest resolved; half the open/pending ones are assigned to an agent."""
    from django.db import connection, transaction

    from channels_inbox.models import Message
    from crm.models import Contact

    tenant = setup["tenant"]
    have = Message.objects.filter(tenant=tenant).count()
    if have >= TOTAL:
        print(f"part 2: reusing {have:,} messages already loaded")
        return
    contacts = list(Contact.objects.filter(tenant=tenant).values_list("id", flat=True)[:5000])
    agents = [user.pk for user in setup["agents"]]
    missing = (TOTAL - have + PER_CONVERSATION - 1) // PER_CONVERSATION
    print(f"part 2: generating {missing:,} conversations x {PER_CONVERSATION} messages …")
    started = time.perf_counter()
    batch = 50_000
    with connection.cursor() as cursor:
        for start in range(0, missing, batch):
            stop = min(start + batch, missing)
            with transaction.atomic():
                cursor.execute(
                    """
                    WITH conv AS (
                        INSERT INTO channels_inbox_conversation (
                            tenant_id, channel_id, contact_id, queue_id, assignee_id, status,
                            subject, thread_key, reply_token, message_count, unread_count,
                            last_message_at, last_inbound_at, last_message_preview, created_at,
                            resolved_at
                        )
                        SELECT %(tenant)s,
                               CASE WHEN n %% 2 = 0 THEN %(email)s ELSE %(sms)s END,
                               (%(contacts)s::bigint[])[1 + n %% %(ncontacts)s],
                               %(queue)s,
                               CASE WHEN n %% 20 < 4 AND n %% 2 = 0
                                    THEN (%(agents)s::bigint[])[1 + (n / 20) %% %(nagents)s]
                               END,
                               CASE WHEN n %% 20 < 3 THEN 'open'
                                    WHEN n %% 20 = 3 THEN 'pending' ELSE 'resolved' END,
                               'Generated conversation ' || n, '',
                               'gen' || %(run)s || '-' || n,
                               %(per)s, CASE WHEN n %% 20 < 3 THEN n %% 3 ELSE 0 END,
                               now() - (n || ' seconds')::interval,
                               now() - (n || ' seconds')::interval,
                               'Hej, min måler viser forkert - kan I hjælpe?',
                               now() - (n || ' seconds')::interval - interval '1 day',
                               CASE WHEN n %% 20 >= 4 THEN now() - (n || ' seconds')::interval
                               END
                        FROM generate_series(%(start)s, %(stop)s - 1) AS n
                        RETURNING id, tenant_id, channel_id, last_message_at
                    )
                    INSERT INTO channels_inbox_message (
                        tenant_id, conversation_id, channel_id, direction, kind, status,
                        external_id, from_address, from_name, to_addresses, cc_addresses,
                        subject, text, html, headers, message_id, in_reply_to, "references",
                        flags, problems, error_code, error_message, created_at
                    )
                    SELECT conv.tenant_id, conv.id, conv.channel_id,
                           CASE WHEN m %% 2 = 0 THEN 'inbound' ELSE 'outbound' END,
                           'email', 'received', 'gen-' || conv.id || '-' || m,
                           'customer@example.dk', '', '[]', '[]', 'Generated',
                           'Hej, min måler viser et forbrug, der ikke passer. Kan I se på det?',
                           '', '{}', '', '', '[]', '[]', '[]', '', '',
                           conv.last_message_at - (m || ' minutes')::interval
                    FROM conv, generate_series(1, %(per)s) AS m
                    """,
                    {
                        "tenant": tenant.pk,
                        "email": setup["email"].pk,
                        "sms": setup["sms"].pk,
                        "queue": setup["queue"].pk,
                        "contacts": contacts,
                        "ncontacts": len(contacts),
                        "agents": agents,
                        "nagents": len(agents),
                        "run": str(int(time.time())),
                        "per": PER_CONVERSATION,
                        "start": have + start,
                        "stop": have + stop,
                    },
                )
            print(f"  {stop:,} / {missing:,} conversations ({time.perf_counter() - started:.0f} s)")
        cursor.execute("VACUUM (ANALYZE) channels_inbox_conversation")
        cursor.execute("VACUUM (ANALYZE) channels_inbox_message")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(label: str, call, baseline: float | None = None) -> float:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    for _ in range(20):
        call()  # warm caches and code paths
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        rows = call()
    samples = []
    for _ in range(PAGE_RUNS):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
    ratio = f"{p50 / baseline:>8.1f}x" if baseline else f"{'':>9}"
    print(f"{label:<44}{len(rows):>6}{len(queries.captured_queries):>9}{p50:>9.2f}{p99:>9.2f}"
          f"{statistics.fmean(samples):>9.2f}{ratio}")  # fmt: skip
    return p50


def inbox_page(setup: dict) -> None:
    from channels_inbox.models import Conversation, Message
    from channels_inbox.selectors import InboxFilter, inbox_for_agent, unassigned_for
    from crm.models import AgentProfile
    from crm.tenancy import principal_for_user

    top_up(setup)
    tenant = setup["tenant"]
    messages = Message.objects.filter(tenant=tenant).count()
    conversations = Conversation.objects.filter(tenant=tenant).count()
    print()
    print(f"inbox at {messages:,} messages in {conversations:,} conversations")
    user = setup["agents"][0]
    principal = principal_for_user(user)
    agent = AgentProfile.objects.get(user=user, tenant=tenant)
    held = Conversation.objects.filter(
        assignee=user, status__in=["open", "pending"], tenant=tenant
    ).count()
    print(f"agent {user.username} holds {held:,} open/pending conversations")
    print(f"{'page':<44}{'rows':>6}{'queries':>9}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}"
          f"{'vs pk':>9}")  # fmt: skip
    some_pk = Conversation.objects.filter(tenant=tenant).values_list("pk", flat=True).first()
    baseline = timed(
        "baseline: Conversation by primary key",
        lambda: list(Conversation.objects.filter(pk=some_pk)),
    )
    agent_p50 = timed(
        "inbox_for_agent (first page)",
        lambda: inbox_for_agent(principal=principal, agent=agent),
        baseline,
    )
    timed(
        "unassigned_for (queue's first page)",
        lambda: unassigned_for(principal=principal, tenant_id=tenant.pk),
        baseline,
    )
    timed(
        "unassigned_for, email only",
        lambda: unassigned_for(
            principal=principal, tenant_id=tenant.pk, filters=InboxFilter(channel_kind="email")
        ),
        baseline,
    )
    print(f"target inbox first page < 100 ms: {'met' if agent_p50 < 100 else 'NOT met'}")


if __name__ == "__main__":
    raise SystemExit(main())
