from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.db import connection

from crm.models import Role
from tests.crm.factories import MembershipFactory, TenantFactory, UserFactory


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://…")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_settings(settings):
    # Failed-login throttling is tested on purpose; elsewhere it would only add noise.
    settings.AXES_ENABLED = False
    # The real hasher costs ~0.3 s per user created; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_routing_config_cache():
    # A test's rollback sends no signals: without this, a phone number cached by one test
    # could answer calls in the next (telephony/config_cache.py).
    from telephony.config_cache import clear_local

    clear_local()
    yield
    clear_local()


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Nordlys Energi", slug="nordlys", language="da")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(
        name="Wisła Telekom",
        slug="wisla",
        language="pl",
        time_zone="Europe/Warsaw",
        default_region="PL",
    )


def member(tenant, role=Role.AGENT, **kwargs):
    return MembershipFactory(tenant=tenant, role=role, **kwargs).user


def flush_live_state() -> None:
    """Delete the channel layer's groups and queues and the replay log (all under its prefix),
    so that what earlier tests left in Redis cannot leak into a live-events test.

    Done with a plain Redis client: the layer's own `flush()` would also close the connection
    pool that crm.realtime's long-lived fan-out loop is using.
    """
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def agent_user(tenant):
    return member(tenant, Role.AGENT, user=UserFactory(username="agent"))


@pytest.fixture
def manager_user(tenant):
    return member(tenant, Role.MANAGER, user=UserFactory(username="manager"))


@pytest.fixture
def viewer_user(tenant):
    return member(tenant, Role.VIEWER, user=UserFactory(username="viewer"))
