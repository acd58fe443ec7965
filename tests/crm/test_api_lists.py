"""Every list endpoint costs the same number of queries for 5 rows as for 30 (no N+1)."""

from __future__ import annotations

import pytest

from crm.models import AgentSkill, Note, PresenceLog, Role, Tag, TimelineEntry
from tests.conftest import member
from tests.crm.api_support import count_queries, key_client, session_client
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    ContactIdentityFactory,
    OrganizationFactory,
    QueueFactory,
    SkillFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_api_state")]
# What each list costs with an API key (the key; the parent row for nested lists; the page; one
# query per prefetched relation). A session costs two more (session, user; the memberships
# replace the key). The point of the test is the equality; the budget catches creep.
BUDGET = {
    "contacts": 4,
    "organizations": 2,
    "tickets": 3,
    "agents": 5,
    "queues": 3,
    "timeline": 3,
    "notes": 3,
    "presence log": 3,
    "search": 9,
}
SESSION_EXTRA = 2


def populate(tenant, n: int) -> dict:
    """`n` rows of every kind the lists show, each with the relations its serializer renders."""
    tags = [Tag.objects.create(tenant=tenant, name=f"tag-{i}") for i in range(2)]
    skills = [SkillFactory(tenant=tenant) for _ in range(2)]
    queues = []
    for _ in range(n):
        queue = QueueFactory(tenant=tenant)
        queue.required_skills.set(skills)
        queues.append(queue)
    contacts = []
    for i in range(n):
        contact = ContactFactory(
            tenant=tenant, first_name="Karen", organization=OrganizationFactory(tenant=tenant)
        )
        ContactIdentityFactory(contact=contact, is_primary=True)
        ContactIdentityFactory(contact=contact, kind="email", value=f"karen{i}@example.test")
        contact.tags.set(tags)
        contacts.append(contact)
    assignee = member(tenant, Role.AGENT)
    tickets = []
    for contact, queue in zip(contacts, queues, strict=True):
        ticket = TicketFactory(
            tenant=tenant, contact=contact, queue=queue, assignee=assignee, subject="Karen"
        )
        ticket.tags.set(tags)
        tickets.append(ticket)
    agents = []
    for _ in range(n):
        agent = AgentProfileFactory(tenant=tenant, user=UserFactory())
        for skill in skills:
            AgentSkill.objects.create(agent=agent, skill=skill, level=7)
        agent.queues.set(queues[:2])
        agents.append(agent)
    contact, ticket, agent = contacts[0], tickets[0], agents[0]
    for i in range(n):
        TimelineEntry.objects.create(
            tenant=tenant, contact=contact, kind="note.added", summary=f"#{i}", actor=assignee
        )
        Note.objects.create(
            tenant=tenant, ticket=ticket, contact=contact, body="x", author=assignee
        )
        PresenceLog.objects.create(tenant=tenant, agent=agent, presence="available")
    return {"contact": contact, "ticket": ticket, "agent": agent}


LISTS = {  # name -> URL, given the rows `populate()` made
    "contacts": lambda rows: "/api/v1/contacts/",
    "organizations": lambda rows: "/api/v1/organizations/",
    "tickets": lambda rows: "/api/v1/tickets/",
    "agents": lambda rows: "/api/v1/agents/",
    "queues": lambda rows: "/api/v1/queues/",
    "timeline": lambda rows: f"/api/v1/contacts/{rows['contact'].pk}/timeline/",
    "notes": lambda rows: f"/api/v1/tickets/{rows['ticket'].pk}/notes/",
    "presence log": lambda rows: f"/api/v1/agents/{rows['agent'].pk}/presence-log/",
    "search": lambda rows: "/api/v1/search/?q=Karen&limit=100",
}


def page_length(response) -> int:
    body = response.json()
    if "results" in body:
        return len(body["results"])
    return len(body["contacts"]) + len(body["tickets"])


@pytest.mark.parametrize("caller", ["api_key", "session"])
@pytest.mark.parametrize("name", LISTS)
def test_list_query_count_does_not_grow_with_the_page(
    tenant, other_tenant, caller, name, django_assert_max_num_queries
):
    # given a caller, and 5 rows of everything in one tenant and 30 in another
    client = (
        key_client(tenant, Role.MANAGER)
        if caller == "api_key"
        else session_client(member(tenant, Role.MANAGER))
    )
    small = populate(tenant, 5)
    other_client = (
        key_client(other_tenant, Role.MANAGER)
        if caller == "api_key"
        else session_client(member(other_tenant, Role.MANAGER))
    )
    large = populate(other_tenant, 30)

    # when each lists a full page (after a warm-up request that pays one-off costs)
    url_few, url_many = LISTS[name](small) + _page(name), LISTS[name](large) + _page(name)
    client.get(url_few)
    budget = BUDGET[name] + (SESSION_EXTRA if caller == "session" else 0)
    with django_assert_max_num_queries(budget) as captured:
        few_response = client.get(url_few)
    many, many_response = count_queries(other_client, url_many)

    # then both pages are full and cost the same number of queries
    assert page_length(few_response) >= 5
    assert page_length(many_response) >= 30
    assert len(captured) == many, f"{name}: {len(captured)} queries for 5 rows, {many} for 30"


def _page(name: str) -> str:
    return "" if name == "search" else "?page_size=100"
