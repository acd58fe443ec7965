"""/api/v1/agents/ (read, presence, presence log), /api/v1/queues/ (read),
/api/v1/organizations/ (CRUD)."""

from __future__ import annotations

import pytest

from crm.models import AgentSkill, AuditEntry, Organization, PresenceLog, Role
from tests.conftest import member
from tests.crm.api_support import ids, key_client, results, session_client
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    OrganizationFactory,
    QueueFactory,
    SkillFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_api_state")]
AGENTS = "/api/v1/agents/"


@pytest.fixture
def agent(tenant, agent_user):
    return AgentProfileFactory(tenant=tenant, user=agent_user)


def test_agents_list_shows_presence_skills_queues_and_capacity(tenant, agent, manager_user):
    skill = SkillFactory(tenant=tenant, name="Danish")
    AgentSkill.objects.create(agent=agent, skill=skill, level=8)
    queue = QueueFactory(tenant=tenant)
    agent.queues.add(queue)
    agent.capacity = {"chat": 2}
    agent.save()

    (row,) = results(session_client(manager_user).get(AGENTS))

    assert row["user"]["username"] == agent.user.username
    assert row["presence"] == "offline"
    assert row["skills"] == [{"name": "Danish", "level": 8}]
    assert row["queues"] == [queue.pk]
    assert row["capacity"] == {"voice": 1, "chat": 2, "email": 5}


def test_agent_sets_own_presence_and_it_is_logged(tenant, agent, agent_user):
    # when the agent goes on a break
    response = session_client(agent_user).post(
        f"{AGENTS}{agent.pk}/presence/", {"presence": "break", "reason": "lunch"}
    )

    # then the profile says so and the log has the period, by the agent
    assert response.status_code == 200, response.content
    assert (response.json()["presence"], response.json()["presence_reason"]) == ("break", "lunch")
    log = PresenceLog.objects.get(agent=agent, ended_at__isnull=True)
    assert (log.presence, log.changed_by) == ("break", agent_user)


def test_agent_may_not_set_a_colleagues_presence_but_a_supervisor_may(tenant, agent):
    colleague = session_client(member(tenant, Role.AGENT))
    supervisor = session_client(member(tenant, Role.SUPERVISOR))
    url = f"{AGENTS}{agent.pk}/presence/"

    refused = colleague.post(url, {"presence": "available"})
    accepted = supervisor.post(url, {"presence": "available"})

    assert refused.status_code == 403
    assert accepted.status_code == 200
    agent.refresh_from_db()
    assert agent.presence == "available"


def test_unknown_presence_is_400(tenant, agent, agent_user):
    response = session_client(agent_user).post(
        f"{AGENTS}{agent.pk}/presence/", {"presence": "asleep"}
    )

    assert response.status_code == 400
    assert "presence" in response.json()["error"]["fields"]


def test_presence_log_newest_first(tenant, agent, manager_user):
    client = session_client(manager_user)
    for presence in ("available", "busy", "after_call_work"):
        client.post(f"{AGENTS}{agent.pk}/presence/", {"presence": presence})

    log = results(client.get(f"{AGENTS}{agent.pk}/presence-log/"))

    assert [row["presence"] for row in log] == ["after_call_work", "busy", "available"]
    assert log[0]["ended_at"] is None


def test_agents_filter_by_presence_and_queue(tenant, agent, manager_user):
    queue = QueueFactory(tenant=tenant)
    busy = AgentProfileFactory(tenant=tenant, user=UserFactory(), presence="busy")
    busy.queues.add(queue)
    client = session_client(manager_user)

    assert ids(client.get(AGENTS, {"presence": "busy"})) == {busy.pk}
    assert ids(client.get(AGENTS, {"queue": queue.pk})) == {busy.pk}
    assert ids(client.get(AGENTS)) == {agent.pk, busy.pk}


def test_agents_and_queues_are_read_only(tenant, agent, manager_user):
    client = session_client(manager_user)
    queue = QueueFactory(tenant=tenant)

    assert client.patch(f"{AGENTS}{agent.pk}/", {"presence": "busy"}).status_code == 405
    assert client.post("/api/v1/queues/", {"name": "x"}).status_code == 405
    assert client.delete(f"/api/v1/queues/{queue.pk}/").status_code == 405


def test_queues_show_required_skills_and_waiting_count(tenant, viewer_user):
    skill = SkillFactory(tenant=tenant, name="Polish")
    queue = QueueFactory(tenant=tenant, name="Support", channel_kinds=["voice"])
    queue.required_skills.add(skill)

    (row,) = results(session_client(viewer_user).get("/api/v1/queues/"))

    assert row["name"] == "Support"
    assert row["channel_kinds"] == ["voice"]
    assert row["required_skills"] == ["Polish"]
    assert row["waiting_count"] == 0


# --- organizations ---


def test_organization_crud_is_audited_and_only_managers_delete(tenant, agent_user, manager_user):
    # given an agent who creates and changes an organization
    client = session_client(agent_user)
    created = client.post("/api/v1/organizations/", {"name": "Acme A/S", "domain": "acme.dk"})
    url = f"/api/v1/organizations/{created.json()['id']}/"
    changed = client.patch(url, {"notes": "Key account"})

    # when the agent and then a manager try to delete it
    refused = client.delete(url)
    deleted = session_client(manager_user).delete(url)

    # then only the manager may, and every write is on the trail with who made it
    assert created.status_code == 201, created.content
    assert created.json()["tenant"] == tenant.slug
    assert changed.json()["notes"] == "Key account"
    assert refused.status_code == 403
    assert deleted.status_code == 204
    assert not Organization.objects.exists()
    actions = list(
        AuditEntry.objects.filter(object_type="crm.organization")
        .order_by("pk")
        .values_list("action", "actor")
    )
    assert actions == [
        ("create", agent_user.pk),
        ("update", agent_user.pk),
        ("delete", manager_user.pk),
    ]


def test_deleting_an_organization_keeps_its_contacts(tenant):
    org = OrganizationFactory(tenant=tenant)
    contact = ContactFactory(tenant=tenant, organization=org)

    response = key_client(tenant).delete(f"/api/v1/organizations/{org.pk}/")

    assert response.status_code == 204
    contact.refresh_from_db()
    assert contact.organization is None


def test_organization_name_is_required(tenant, agent_user):
    response = session_client(agent_user).post("/api/v1/organizations/", {"domain": "x.dk"})

    assert response.status_code == 400
    assert "name" in response.json()["error"]["fields"]


def test_organizations_filter_by_name(tenant, agent_user):
    acme = OrganizationFactory(tenant=tenant, name="Acme A/S")
    OrganizationFactory(tenant=tenant, name="Globex")

    found = ids(session_client(agent_user).get("/api/v1/organizations/", {"name": "acme"}))

    assert found == {acme.pk}
