"""Helpers shared by the API tests (tests/crm/test_api_*.py): clients and a two-tenant world."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from crm.models import (
    AgentProfile,
    Contact,
    Note,
    Organization,
    PresenceLog,
    Queue,
    Role,
    Tenant,
    Ticket,
    TimelineEntry,
    User,
)
from crm.services.api_keys import api_key_create
from tests.conftest import member
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    ContactIdentityFactory,
    OrganizationFactory,
    QueueFactory,
    TicketFactory,
    UserFactory,
)


def session_client(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def key_client(tenant: Tenant, role: str = Role.MANAGER) -> APIClient:
    _, plain = api_key_create(tenant=tenant, name=f"{tenant.slug}-{role}", role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    return client


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response) -> set[int]:
    return {row["id"] for row in results(response)}


def count_queries(client: APIClient, url: str) -> tuple[int, object]:
    """Queries one GET costs, after a warm-up request (which pays one-off costs such as the API
    key's last-used stamp), and the response."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    return len(captured.captured_queries), response


@dataclass
class TenantWorld:
    """One of everything the API serves, in one tenant."""

    tenant: Tenant
    organization: Organization
    contact: Contact
    phone: str
    ticket: Ticket
    note: Note
    queue: Queue
    agent: AgentProfile
    timeline: TimelineEntry


def build_world(tenant: Tenant, *, phone: str) -> TenantWorld:
    organization = OrganizationFactory(tenant=tenant, name=f"{tenant.name} Org")
    contact = ContactFactory(tenant=tenant, organization=organization, first_name="Karen")
    ContactIdentityFactory(contact=contact, value=phone, is_primary=True)
    queue = QueueFactory(tenant=tenant)
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory())
    PresenceLog.objects.create(tenant=tenant, agent=agent, presence=agent.presence)
    ticket = TicketFactory(tenant=tenant, contact=contact, queue=queue, subject="Router broken")
    note = Note.objects.create(tenant=tenant, ticket=ticket, contact=contact, body="Called back")
    timeline = TimelineEntry.objects.create(
        tenant=tenant, contact=contact, kind="note.added", summary="Called back", ticket=ticket
    )
    return TenantWorld(
        tenant=tenant,
        organization=organization,
        contact=contact,
        phone=phone,
        ticket=ticket,
        note=note,
        queue=queue,
        agent=agent,
        timeline=timeline,
    )


def manager_of(tenant: Tenant) -> User:
    return member(tenant, Role.MANAGER)
