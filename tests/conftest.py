from __future__ import annotations

import pytest
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


@pytest.fixture
def agent_user(tenant):
    return member(tenant, Role.AGENT, user=UserFactory(username="agent"))


@pytest.fixture
def manager_user(tenant):
    return member(tenant, Role.MANAGER, user=UserFactory(username="manager"))


@pytest.fixture
def viewer_user(tenant):
    return member(tenant, Role.VIEWER, user=UserFactory(username="viewer"))
