"""Fixtures shared by the CRM tests (the tenants and users themselves are in tests/conftest.py)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from crm.events import DomainEvent, subscribe, unsubscribe
from crm.tenancy import Principal, principal_for_user


@pytest.fixture
def received():
    """Every event handed to subscribers while the test runs (wrap the code under test in
    `django_capture_on_commit_callbacks(execute=True)`: events go out on commit)."""
    events: list[DomainEvent] = []
    subscribe(events.append)
    yield events
    unsubscribe(events.append)


@pytest.fixture
def published(monkeypatch):
    """Like `received`, but this recorder is the only subscriber: nothing goes to Redis."""
    events: list[DomainEvent] = []
    monkeypatch.setattr("crm.events._subscribers", [events.append])
    return events


@pytest.fixture
def agent(agent_user) -> Principal:
    """The tenant's agent, as the services see a caller."""
    return principal_for_user(agent_user)


@pytest.fixture
def manager(manager_user) -> Principal:
    """The tenant's manager, as the services see a caller."""
    return principal_for_user(manager_user)


@pytest.fixture
def fresh_api_state() -> None:
    """For API tests (`pytest.mark.usefixtures("fresh_api_state")`): forget request counts.
    SQLite reuses ids after a rolled-back test, so one user id could otherwise collect many
    tests' requests within a throttle window."""
    cache.clear()
