"""The wallboard's first render and each live panel run a number of queries that does not grow
with the data: the same count with 5 and with 30 of everything (agents on calls, remote agents
with presence logs, waiting work, conversations, today's calls and messages)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Presence
from crm.services.presence import agent_set_presence
from crm.services.tickets import ticket_create
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    QueueFactory,
    WorkItemFactory,
)
from tests.workspace.test_supervisor_wallboard import (
    PANELS,
    conversation,
    inbound_call,
    inbound_message,
)

pytestmark = pytest.mark.django_db

# The first render: session, user, principal, tenants, then the panels' own reads.
MAX_QUERIES_PAGE = 30


def add_data(tenant, n: int) -> None:
    for i in range(n):
        queue = QueueFactory(tenant=tenant)
        agent = AgentProfileFactory(tenant=tenant, works_remotely=i % 2 == 0)
        agent_set_presence(agent=agent, presence=Presence.AVAILABLE, reason="")
        agent_set_presence(agent=agent, presence=Presence.BUSY, reason="")
        WorkItemFactory(
            tenant=tenant, queue=queue, enqueued_at=timezone.now() - timedelta(minutes=i)
        )
        inbound_call(tenant, queue, answered=True, wait=i, ended=False, agent=agent)
        inbound_call(tenant, queue, abandoned=True, wait=30 + i)
        open_conv = conversation(tenant, queue, subject=f"Question {i}")
        inbound_message(open_conv)
        conversation(tenant, queue, assignee=agent.user, subject=f"Held {i}")
        ticket_create(
            tenant=tenant,
            actor=None,
            contact=ContactFactory(tenant=tenant),
            subject="T",
            assignee=agent.user,
        )


def count_queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_query_count_does_not_grow_with_the_data(supervisor_client, tenant):
    urls = {
        "wallboard": reverse("supervisor-wallboard"),
        "board": reverse("supervisor-board"),
        **{name: reverse("supervisor-panel", args=[name]) for name in PANELS},
    }
    params = {"tenant": tenant.pk}

    add_data(tenant, 5)
    few = {name: count_queries(supervisor_client, url, params) for name, url in urls.items()}
    add_data(tenant, 25)
    many = {name: count_queries(supervisor_client, url, params) for name, url in urls.items()}

    assert many == few
    assert max(many.values()) <= MAX_QUERIES_PAGE


def test_agent_log_page_query_count_does_not_grow(supervisor_client, tenant):
    agent = AgentProfileFactory(tenant=tenant, works_remotely=True)
    url = reverse("supervisor-agent-log", args=[agent.pk])
    for presence in ("available", "break"):
        agent_set_presence(agent=agent, presence=presence)
    few = count_queries(supervisor_client, url, {"tenant": tenant.pk})
    for _ in range(10):
        for presence in ("available", "break"):
            agent_set_presence(agent=agent, presence=presence)
    assert count_queries(supervisor_client, url, {"tenant": tenant.pk}) == few
