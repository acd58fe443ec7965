"""The ticket panel: status by crm's allowed transitions, priority, assignee and due time,
edited in place; bad input answers 400 with the reason; another tenant's ticket is 404."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import TicketPriority, TicketStatus
from tests.crm.factories import AgentProfileFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(tenant, agent_profile):
    return TicketFactory(tenant=tenant, assignee=agent_profile.user, subject="Meter broken")


def _url(ticket) -> str:
    return reverse("agent-ticket", args=[ticket.pk])


def test_panel_offers_only_the_allowed_next_statuses(agent_client, ticket):
    html = agent_client.get(_url(ticket)).content.decode()
    assert "Meter broken" in html
    assert f"Ticket #{ticket.number}" in html
    # a new ticket may be opened, pended, solved or closed, but it is already new
    status_select = html[
        html.index('name="status"') : html.index("</select>", html.index('name="status"'))
    ]
    assert 'value="open"' in status_select
    assert "→ New" not in status_select
    assert "ticket.status_changed" in html  # refreshed live


def test_changing_status_priority_assignee_and_due_time(agent_client, tenant, ticket, settings):
    colleague = AgentProfileFactory(tenant=tenant)

    response = agent_client.post(
        _url(ticket),
        {
            "status": "open",
            "priority": str(TicketPriority.URGENT),
            "assignee": str(colleague.user_id),
            "due_at": "2026-12-01T09:30",
        },
    )

    assert response.status_code == 200, response.content.decode()[:800]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.priority == TicketPriority.URGENT
    assert ticket.assignee == colleague.user
    assert ticket.due_at is not None
    assert ticket.due_at.replace(tzinfo=None) <= datetime(2026, 12, 1, 9, 30)


def test_a_forbidden_transition_is_refused_with_what_would_work(agent_client, ticket):
    agent_client.post(_url(ticket), {"status": "closed"})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED

    response = agent_client.post(_url(ticket), {"status": "open"})

    assert response.status_code == 400
    assert "cannot become open" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED


def test_bad_values_are_refused_and_nothing_changes(agent_client, ticket, other_tenant):
    stranger = AgentProfileFactory(tenant=other_tenant)
    for form, reason in (
        ({"priority": "9"}, "Unknown priority."),
        ({"assignee": str(stranger.user_id)}, "not an agent of this tenant"),
        ({"due_at": "tomorrow-ish"}, "not a valid date"),
    ):
        response = agent_client.post(_url(ticket), form)
        assert response.status_code == 400
        assert reason in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.priority == TicketPriority.NORMAL
    assert ticket.due_at is None


def test_another_tenants_ticket_is_404(agent_client, other_tenant):
    theirs = TicketFactory(tenant=other_tenant)
    assert agent_client.get(_url(theirs)).status_code == 404
    assert agent_client.post(_url(theirs), {"status": "open"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == TicketStatus.NEW


def test_panel_queries_do_not_grow_with_agents(agent_client, tenant, ticket):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert agent_client.get(_url(ticket)).status_code == 200
        return len(ctx.captured_queries)

    count()
    few = count()
    for _ in range(8):
        AgentProfileFactory(tenant=tenant)
    assert count() == few
