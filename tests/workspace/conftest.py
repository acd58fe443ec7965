"""Fixtures for the agent workspace and wallboard tests: an agent with a profile and a queue."""

from __future__ import annotations

import pytest

from crm.models import Role
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, QueueFactory, UserFactory


@pytest.fixture
def queue(tenant):
    return QueueFactory(tenant=tenant, name="Support")


@pytest.fixture
def agent_profile(tenant, agent_user):
    return AgentProfileFactory(tenant=tenant, user=agent_user)


@pytest.fixture
def agent_client(client, agent_profile):
    client.force_login(agent_profile.user)
    return client


@pytest.fixture
def supervisor_user(tenant):
    return member(tenant, Role.SUPERVISOR, user=UserFactory(username="supervisor"))


@pytest.fixture
def supervisor_client(client, supervisor_user):
    client.force_login(supervisor_user)
    return client
