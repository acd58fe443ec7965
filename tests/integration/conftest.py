"""Integration tests: real processes and real Redis, no eager Celery, no in-memory layer.

The broker and the channel layer are the ones in settings: the embedded Redis that `make test`
starts, or REDIS_URL in CI. The Celery worker consumes from that broker in a thread of the test
process (celery.contrib.testing), so tasks travel as serialised messages exactly as in production.
Tests here use `transactional_db`: the worker's own database connection must see committed rows.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from celery.contrib.testing.worker import start_worker
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from contactcenter.asgi import application
from contactcenter.celery import app as celery_app
from tests.conftest import flush_live_state


@pytest.fixture
def channel_layer():
    # Groups, queued messages and the replay log of earlier tests must not leak into this one.
    flush_live_state()
    yield get_channel_layer()
    flush_live_state()


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker consuming from the configured broker for the test's duration."""
    celery_app.control.purge()  # tasks left in the broker by an earlier run would run first
    # The worker would otherwise replace the root logger's handlers for the rest of the session.
    hijack = celery_app.conf.worker_hijack_root_logger
    celery_app.conf.worker_hijack_root_logger = False
    try:
        with start_worker(
            celery_app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=30,
        ) as worker:
            yield worker
    finally:
        celery_app.conf.worker_hijack_root_logger = hijack


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={value}".encode()


async def ws_connect(user) -> WebsocketCommunicator:
    """A `/ws/` communicator signed in as `user` (a real session cookie), hello consumed."""
    cookie = await sync_to_async(_session_cookie)(user)
    headers = [(b"origin", b"http://testserver"), (b"cookie", cookie)]
    socket = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await socket.connect(timeout=5)
    assert connected
    assert (await socket.receive_json_from(timeout=5))["event"] == "hello"
    return socket


@pytest.fixture
def ws_for():
    """`await ws_for(user)` inside an async scenario: see `ws_connect`."""
    return ws_connect
