"""Fan-out of one tenant-wide event to 500 agent sockets, next to a Redis round trip.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cc_fanout \
    REDIS_URL=redis://127.0.0.1:6379/15 \
        .venv/bin/python benchmarks/live_fanout.py              # or: make bench-live

Needs PostgreSQL (SQLite is refused). Redis comes from REDIS_URL, else an embedded Redis is
started for the run, as `make run` does. Everything runs on this machine's loopback.

What it does:

1. Migrates the database and makes (once) a tenant ("bench-fanout") with 500 agent users, each
   with an agent membership. Every run opens one fresh login session per agent directly in the
   session store (what `login()` would store: user id, backend, session auth hash) and deletes
   those sessions at the end.
2. Starts daphne serving `contactcenter.asgi:application` in a subprocess, the production way
   (DEBUG off, an explicit SECRET_KEY shared with this process so the sessions verify), and
   stops it at the end, also on Ctrl-C or SIGTERM.
3. From this one asyncio process, opens 500 WebSockets to `/ws/` with the session cookies
   (aiohttp's client, already installed as a dependency of the twilio SDK), 20 handshakes at a
   time, and waits for every socket's `hello`.
4. Rounds (BENCH_ROUNDS, default 200, after BENCH_WARMUP=10 not counted, bounded by
   BENCH_SECONDS=90): publishes a tenant-wide `contact.updated` through `crm.events.publish`
   (no transaction is open, so it goes out at once: replay-log EVAL, then `group_send` to
   `tenant.<id>`), and waits until all 500 sockets have received that round's event (5 s at
   most), then 20 ms of quiet before the next round.
5. Baseline, in the same run and under the same conditions: after each round, 5 PINGs to the
   same Redis with redis-py from the publishing thread.

How the time is measured. One clock, `time.monotonic()`, in this process. The publishing thread
(a single-thread executor, so `publish()`'s blocking Redis calls never stall the event loop that
reads the sockets) takes t0 immediately before calling `publish()`; each socket's reader task
takes its arrival time as soon as aiohttp hands it the frame, before decoding the JSON. The
figure is (arrival at the LAST of the 500 sockets) - t0. The round is prepared before t0, so an
event that races ahead of `publish()` returning is still counted. What the figure includes
besides the server: this client's own work to read 500 frames on one event loop (bounded by the
spread first -> last socket, and shown as the client's CPU time per round, about 20 ms on two
cores), and the GIL shared by the event loop, the publishing thread and `crm.realtime`'s fan-out
thread. Those make the figure a little pessimistic, never optimistic.

Printed: p50/p99/max delivery to the last socket, to the first socket, the spread first->last,
how long `publish()` took, the Redis PING p50/p99, the ratio of the p99s, whether the target
holds (p99 to the last socket <= 150 ms), rounds that did not complete, and the load average.
To tell which part dominates, it also prints the CPU time each party spent per measured round:
daphne (from /proc), this client process (publisher and socket readers) and Redis (INFO cpu).

Where the time goes (measured on the shared 2-core development machine). Before: every socket
was its own channel-layer channel. channels_redis sends ONE Redis message per process for a
group, but then wakes every socket's consumer: each waits in `RedisChannelLayer.receive()` (a
lock and two fresh tasks per wait), goes through Channels' `await_many_dispatch` and `dispatch`,
and encodes the event with its own `json.dumps` before the frame write. That was ~130 ms of
daphne CPU per event for 500 sockets, and the spread first -> last socket was ~120 ms (p50;
~385 ms p99). Now `crm.consumers.LocalFanOut`, one per daphne process, is the only member of the
groups: it receives each event once, encodes it once, and hands the same `websocket.send`
message to each local socket of the group. Same run conditions, one daphne:

    before  last socket p50 145 / p99 425 ms, spread p50 119 ms, daphne 130 ms CPU per event
            (load average 1.2-1.6)
    after   last socket p50  61 / p99 132 ms, spread p50  31 ms, daphne  38 ms CPU per event
            (load average 4.3-4.5, i.e. with other work on the two cores); later runs at load
            5.1-7.6: p50 42-141 / p99 192-653 ms, daphne 33-42 ms CPU per event

What is left per socket is the server's own frame write (autobahn framing, a Twisted write, an
epoll registration), about 75 us each; more daphne processes share it (BENCH_DAPHNES=2). The
latency figures move with the machine's load (with a load average of 7.5 on two cores the same
code measured p99 650 ms with one daphne and 163 ms with two, at the same ~40 ms of daphne CPU
per event), so compare the CPU per event and the ratio, and read the load average printed with
them.

Options (environment): BENCH_SOCKETS (500), BENCH_ROUNDS (200), BENCH_WARMUP (10),
BENCH_SECONDS (90, the measured rounds' time limit), BENCH_DAPHNES (1: the number of daphne
processes; sockets are spread over them in turn, to see whether the figure scales with servers).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

SOCKETS = int(os.environ.get("BENCH_SOCKETS", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "10"))
TIME_LIMIT = float(os.environ.get("BENCH_SECONDS", "90"))
DAPHNES = max(1, int(os.environ.get("BENCH_DAPHNES", "1")))
PINGS_PER_ROUND = 5
ROUND_TIMEOUT = 5.0
QUIET_BETWEEN_ROUNDS = 0.02
CONCURRENT_HANDSHAKES = 20
CONNECT_TIMEOUT = 120.0

TENANT_SLUG = "bench-fanout"
USERNAME = "bench-fanout-agent-{:03d}"
EVENT = "contact.updated"
TARGET_P99_MS = 150.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _stop_on_signal(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> int:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL database, e.g.")
        print("  DATABASE_URL=postgres://postgres@127.0.0.1:5432/cc_fanout")
        print("SQLite is refused: its timings say nothing about production.")
        return 2
    # 500 client sockets here and 500 in daphne (which inherits the limit), plus Redis and files.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * SOCKETS + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    ports = [free_port() for _ in range(DAPHNES)]
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
            "DEBUG": "false",
            # Shared with daphne: the sessions made here are signed with it.
            "SECRET_KEY": "bench-" + secrets.token_urlsafe(40),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports[0]}",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
        }
    )
    signal.signal(signal.SIGTERM, _stop_on_signal)
    redis_server = None
    if not os.environ.get("REDIS_URL"):
        from contactcenter.devstack import EmbeddedRedis
        from contactcenter.settings import RUN_DIR

        redis_server = EmbeddedRedis(RUN_DIR / "bench-fanout-redis.sock").start()
        os.environ["REDIS_URL"] = redis_server.url
    try:
        return run(ports)
    except KeyboardInterrupt:
        print("interrupted")
        return 130
    finally:
        if redis_server is not None:
            redis_server.stop()


def run(ports: list[int]) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        print("DATABASE_URL does not point at PostgreSQL.")
        return 2
    call_command("migrate", verbosity=0, skip_checks=True)
    tenant_id, user_ids = seed()
    cookies = open_sessions(user_ids)
    connection.close()  # daphne gets the database to itself
    try:
        with tempfile.TemporaryDirectory(prefix="bench-fanout-") as folder:
            logs = [Path(folder) / f"daphne-{port}.log" for port in ports]
            servers: list[subprocess.Popen] = []
            try:
                for port, log in zip(ports, logs, strict=True):
                    servers.append(start_daphne(port, log))
                for port, server, log in zip(ports, servers, logs, strict=True):
                    wait_until_up(port, server, log)
                result = asyncio.run(measure(ports, servers, tenant_id, cookies))
            finally:
                for server, log in zip(servers, logs, strict=False):
                    stop(server)
                    if server.returncode not in (0, -signal.SIGTERM):
                        print(f"daphne exited with {server.returncode}:\n{log.read_text()[-3000:]}")
    finally:
        close_sessions(cookies)
    return report(result)


def seed() -> tuple[int, list[int]]:
    """The tenant and its agents (made once, found on later runs); returns their ids."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from crm.models import Membership, Role, Tenant, User

    names = [USERNAME.format(n) for n in range(SOCKETS)]
    with transaction.atomic():
        tenant, _ = Tenant.objects.get_or_create(
            slug=TENANT_SLUG, defaults={"name": "Fan-out benchmark"}
        )
        existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
        User.objects.bulk_create(
            User(
                username=name, first_name="Agent", last_name=name[-3:], password=make_password(None)
            )
            for name in names
            if name not in existing
        )
        user_ids = list(User.objects.filter(username__in=names).values_list("pk", flat=True))
        Membership.objects.bulk_create(
            (Membership(user_id=pk, tenant=tenant, role=Role.AGENT) for pk in user_ids),
            ignore_conflicts=True,
        )
    return tenant.pk, user_ids


def open_sessions(user_ids: list[int]) -> list[str]:
    """One login session per user, written straight to the session store; returns the keys."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from crm.models import User

    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    for user in User.objects.filter(pk__in=user_ids):
        session = store_class()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return keys


def close_sessions(keys: list[str]) -> None:
    from importlib import import_module

    from django.conf import settings

    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store_class(session_key=key).delete()


def start_daphne(port: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "daphne",
        "-b", "127.0.0.1", "-p", str(port),
        "-v", "0",
        "contactcenter.asgi:application",
    ]  # fmt: skip
    with log.open("ab") as output:
        return subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=dict(os.environ),
            start_new_session=True,
            stdout=output,
            stderr=output,
        )


def wait_until_up(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"daphne exited at start-up:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.2)
            continue
        return
    raise SystemExit(f"daphne on port {port} did not come up in {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Round:
    """Arrivals of one round's event, filled in by the socket readers."""

    number: int
    expected: int
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def arrived(self, at: float) -> None:
        if self.count == 0:
            self.first = at
        self.count += 1
        self.last = at
        if self.count == self.expected:
            self.done.set()


@dataclass
class Result:
    sockets: int
    to_last: list[float] = field(default_factory=list)
    to_first: list[float] = field(default_factory=list)
    spread: list[float] = field(default_factory=list)
    publish_call: list[float] = field(default_factory=list)
    pings: list[float] = field(default_factory=list)
    incomplete: int = 0
    cpu_daphne: float = 0.0  # seconds over the measured rounds
    cpu_client: float = 0.0
    cpu_redis: float = 0.0
    connect_seconds: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def redis_cpu_seconds(client) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def measure(
    ports: list[int], servers: list[subprocess.Popen], tenant_id: int, cookies: list[str]
) -> Result:
    import aiohttp
    import redis
    from django.conf import settings

    from crm.events import publish

    current: dict[str, Round | None] = {"round": None}

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            at = time.monotonic()  # before decoding: the frame is here
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            round_ = current["round"]
            if (
                round_ is not None
                and message.get("event") == EVENT
                and message["data"].get("bench_round") == round_.number
            ):
                round_.arrived(at)

    gate = asyncio.Semaphore(CONCURRENT_HANDSHAKES)
    connector = aiohttp.TCPConnector(limit=0)
    ping_client = redis.Redis.from_url(settings.REDIS_URL)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publisher")
    loop = asyncio.get_running_loop()
    result = Result(sockets=len(cookies))

    async def connect(
        http: aiohttp.ClientSession, key: str, port: int
    ) -> aiohttp.ClientWebSocketResponse:
        async with gate:
            ws = await http.ws_connect(
                f"ws://127.0.0.1:{port}/ws/",
                headers={
                    "Cookie": f"{settings.SESSION_COOKIE_NAME}={key}",
                    "Origin": f"http://127.0.0.1:{port}",
                },
                autoping=True,
                max_msg_size=0,
            )
            hello = await ws.receive_json(timeout=30)
            if (
                hello.get("event") != "hello"
                or f"tenant.{tenant_id}" not in hello["data"]["groups"]
            ):
                raise SystemExit(f"unexpected first frame: {hello}")
            return ws

    def publish_round(number: int) -> tuple[float, float]:
        started = time.monotonic()
        publish(
            EVENT,
            tenant_id=tenant_id,
            payload={"id": 0, "name": "Fan-out", "fields": ["name"], "bench_round": number},
        )
        return started, time.monotonic()

    def ping_redis() -> list[float]:
        samples = []
        for _ in range(PINGS_PER_ROUND):
            started = time.monotonic()
            ping_client.ping()
            samples.append(time.monotonic() - started)
        return samples

    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.monotonic()
        sockets = await asyncio.wait_for(
            asyncio.gather(
                *(connect(http, key, ports[n % len(ports)]) for n, key in enumerate(cookies))
            ),
            CONNECT_TIMEOUT,
        )
        result.connect_seconds = time.monotonic() - started
        print(
            f"{len(sockets)} sockets connected to {len(ports)} daphne process(es) and greeted "
            f"in {result.connect_seconds:.1f} s"
        )
        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        await loop.run_in_executor(executor, ping_client.ping)  # the connection is made
        try:
            result.load_before = os.getloadavg()[0]
            deadline = None
            for number in range(WARMUP + ROUNDS):
                measured = number >= WARMUP
                if measured and deadline is None:
                    deadline = time.monotonic() + TIME_LIMIT
                    cpu = (
                        sum(process_cpu_seconds(s.pid) for s in servers),
                        own_cpu_seconds(),
                        redis_cpu_seconds(ping_client),
                    )
                if deadline is not None and time.monotonic() > deadline:
                    print(f"time limit reached after {len(result.to_last)} measured rounds")
                    break
                round_ = Round(number=number, expected=len(sockets))
                current["round"] = round_
                sent_at, returned_at = await loop.run_in_executor(executor, publish_round, number)
                try:
                    await asyncio.wait_for(round_.done.wait(), ROUND_TIMEOUT)
                except TimeoutError:
                    if measured:
                        result.incomplete += 1
                    print(f"round {number}: {round_.count}/{round_.expected} sockets in time")
                current["round"] = None
                pings = await loop.run_in_executor(executor, ping_redis)
                if measured:
                    result.pings.extend(pings)
                    if round_.done.is_set():
                        result.to_last.append(round_.last - sent_at)
                        result.to_first.append(round_.first - sent_at)
                        result.spread.append(round_.last - round_.first)
                        result.publish_call.append(returned_at - sent_at)
                await asyncio.sleep(QUIET_BETWEEN_ROUNDS)
            result.load_after = os.getloadavg()[0]
            if deadline is not None:
                result.cpu_daphne = sum(process_cpu_seconds(s.pid) for s in servers) - cpu[0]
                result.cpu_client = own_cpu_seconds() - cpu[1]
                result.cpu_redis = redis_cpu_seconds(ping_client) - cpu[2]
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
            await asyncio.gather(*readers, return_exceptions=True)
            executor.shutdown(wait=True)
            ping_client.close()
    return result


def report(result: Result) -> int:
    if not result.to_last:
        print("no round completed: nothing to report")
        return 1

    def ms(values: list[float], q: float) -> str:
        return f"{percentile(values, q) * 1000:>10.2f}"

    print()
    rounds = len(result.to_last) + result.incomplete
    print(
        f"{result.sockets} sockets on {DAPHNES} daphne process(es), Redis channel layer, "
        f"{rounds} measured rounds, {os.cpu_count()} CPUs"
    )
    print(f"{'':<40}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    rows = (
        ("event delivered to the LAST socket", result.to_last),
        ("event delivered to the first socket", result.to_first),
        ("spread first -> last socket", result.spread),
        ("publish() call (log EVAL + group_send)", result.publish_call),
        ("baseline: Redis PING (redis-py)", result.pings),
    )
    for label, values in rows:
        print(f"{label:<40}{ms(values, 50)}{ms(values, 99)}{ms(values, 100)}")
    p99 = percentile(result.to_last, 99) * 1000
    ratio = percentile(result.to_last, 99) / percentile(result.pings, 99)
    print(f"ratio p99 last socket / p99 Redis PING: {ratio:.0f}x")
    print(f"rounds not delivered to every socket within {ROUND_TIMEOUT:.0f} s: {result.incomplete}")
    print(
        "CPU time per round (ms): "
        f"daphne {result.cpu_daphne / rounds * 1000:.1f}, "
        f"benchmark client {result.cpu_client / rounds * 1000:.1f} (incl. the pings), "
        f"Redis {result.cpu_redis / rounds * 1000:.1f} (the whole server)"
    )
    print(f"load average (1 min): {result.load_before:.2f} before, {result.load_after:.2f} after")
    met = p99 <= TARGET_P99_MS and result.incomplete == 0
    print(f"target p99 to the last socket <= {TARGET_P99_MS:.0f} ms: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
