"""Browser tests: Playwright for Python driving Debian's Chromium against a real ASGI server.

The page under test holds a WebSocket (/ws/), which pytest-django's WSGI `live_server` cannot
serve, so the server is Daphne — the production ASGI server — in a subprocess, connected to the
test database and to the same Redis as the test process (the channel layer carries the events
the test publishes to the browser). A subprocess can only see the test database when it is a
real server: on SQLite (in memory, per process) these tests skip; PostgreSQL CI runs them.

No browser is downloaded: the tests skip unless /usr/bin/chromium exists (`.ci/run` installs
Debian's package). Screenshots of every step go to artifacts/browser/ (gitignored).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from tests.conftest import flush_live_state

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "artifacts" / "browser"
PASSWORD = "browser-pass-123"


def pytest_collection_modifyitems(config, items):
    reason = None
    if not CHROMIUM.exists():
        reason = "needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"
    elif "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        reason = (
            "needs PostgreSQL: the ASGI server runs in a subprocess and cannot see an "
            "in-memory SQLite test database (run with DATABASE_URL=postgres://…)"
        )
    if reason is None:
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db["PASSWORD"]:
        auth += f":{db['PASSWORD']}"
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


class AsgiServer:
    """Daphne serving contactcenter.asgi on one port, against the test database. `stop()` and
    `start()` again on the same port stand in for a server restart."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": _database_url(), "DEBUG": "true"}
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "contactcenter.asgi:application"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("daphne did not start within 30 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture
def asgi_server(transactional_db):
    """A running `AsgiServer`; its `url` is the base URL to browse."""
    flush_live_state()
    server = AsgiServer()
    server.start()
    yield server
    server.stop()
    _wait_for_sessions_to_end()
    flush_live_state()


class CeleryWorker:
    """A real Celery worker process (`celery -A contactcenter worker`) on the test database and
    the configured broker, as in production: tasks the server enqueues run there, not in the
    test. Started with `--purge`, so tasks earlier tests left in the broker never run here."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": _database_url(), "DEBUG": "true"}
        command = [sys.executable, "-m", "celery", "-A", "contactcenter", "worker"]
        options = ["--pool=solo", "--purge", "--without-gossip", "--without-mingle"]
        self.process = subprocess.Popen(
            [*command, *options, "--loglevel=INFO"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError("the Celery worker exited while starting")
            if " ready." in line:
                return
        self.stop()
        raise RuntimeError("the Celery worker did not start within 60 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture
def celery_worker_process(asgi_server):
    """A running `CeleryWorker` beside the `asgi_server`."""
    worker = CeleryWorker()
    worker.start()
    yield worker
    worker.stop()


def _wait_for_sessions_to_end(timeout: float = 10.0) -> None:
    # PostgreSQL ends a dead client's backend a moment after the client exits; until then the
    # test database cannot be dropped at the end of the session.
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous code between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def set_real_password(user) -> None:
    """The suite swaps in a fast test hasher the Daphne process does not know: store the
    password with the production hasher so the real login form accepts it."""
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    user.save(update_fields=["password"])


class Shots:
    """Numbered screenshots of each step, per test."""

    def __init__(self, name: str) -> None:
        self.folder = ARTIFACTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    def __call__(self, page, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request) -> Shots:
    return Shots(request.node.name)
