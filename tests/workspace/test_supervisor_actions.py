"""What a supervisor does from the wallboard: change an agent's presence, reassign a
conversation, read an agent's presence log. Each answers the refreshed panel, refuses bad input
with a reason, and treats another tenant's agent or conversation as absent (404)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from channels_inbox.models import ConversationStatus
from crm.models import Presence, PresenceLog, Role
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, QueueFactory, UserFactory
from tests.workspace.test_supervisor_wallboard import conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    """The events published, recorded instead of sent (nothing goes to Redis)."""
    events = []
    monkeypatch.setattr("crm.events._subscribers", [events.append])
    return events


def set_presence(client, agent, tenant, **data):
    url = reverse("supervisor-agent-presence", args=[agent.pk])
    return client.post(url, {"tenant": tenant.pk, **data})


# --- presence ---------------------------------------------------------------------------------


def test_supervisor_puts_an_agent_on_a_break_and_the_log_names_them(
    supervisor_client, supervisor_user, tenant, published, django_capture_on_commit_callbacks
):
    # given an available agent
    agent = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)

    # when the supervisor sets them on a break for a meeting
    with django_capture_on_commit_callbacks(execute=True):
        response = set_presence(
            supervisor_client, agent, tenant, presence="break", reason="Coaching"
        )

    # then the agents panel comes back showing it, the log names the supervisor, and the agent's
    # own browser is told (the event is addressed to the agent as well as to staff)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="sv-agents"' in html
    row = html[html.index(f'data-agent="{agent.pk}"') :][:3000]
    assert 'data-testid="agent-state">Break<' in row
    entry = PresenceLog.objects.get(agent=agent, ended_at__isnull=True)
    assert (entry.presence, entry.reason, entry.changed_by) == (
        "break",
        "Coaching",
        supervisor_user,
    )
    (event,) = [e for e in published if e.name == "agent.status_changed"]
    assert event.agent_user_id == agent.user_id
    assert event.payload["changed_by"] == supervisor_user.get_username()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"presence": "asleep"}, "Unknown presence."),
        ({"presence": "break", "reason": "x" * 101}, "at most 100 characters"),
    ],
)
def test_bad_presence_input_is_refused_with_a_reason_and_changes_nothing(
    supervisor_client, tenant, data, reason
):
    agent = AgentProfileFactory(tenant=tenant)

    response = set_presence(supervisor_client, agent, tenant, **data)

    assert response.status_code == 400
    assert reason in response.content.decode()
    agent.refresh_from_db()
    assert agent.presence == Presence.OFFLINE
    assert not PresenceLog.objects.exists()


def test_another_tenants_agent_is_not_found(supervisor_client, tenant, other_tenant):
    theirs = AgentProfileFactory(tenant=other_tenant)

    # neither through our tenant nor by naming theirs (which we do not supervise)
    assert set_presence(supervisor_client, theirs, tenant, presence="break").status_code == 404
    assert (
        set_presence(supervisor_client, theirs, other_tenant, presence="break").status_code == 403
    )
    log = reverse("supervisor-agent-log", args=[theirs.pk])
    assert supervisor_client.get(log, {"tenant": tenant.pk}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.presence == Presence.OFFLINE


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_agents_cannot_set_a_colleagues_presence(client, tenant, role):
    colleague = AgentProfileFactory(tenant=tenant)
    client.force_login(member(tenant, role))

    assert set_presence(client, colleague, tenant, presence="offline").status_code == 403
    assert not PresenceLog.objects.exists()


def test_only_post_changes_presence(supervisor_client, tenant):
    agent = AgentProfileFactory(tenant=tenant)
    url = reverse("supervisor-agent-presence", args=[agent.pk])
    assert supervisor_client.get(url, {"tenant": tenant.pk, "presence": "break"}).status_code == 405


def test_agent_log_page_lists_every_period_newest_first(supervisor_client, tenant):
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(first_name="Ole", last_name="Lund"))
    for presence in ("available", "break", "offline"):
        set_presence(supervisor_client, agent, tenant, presence=presence)

    page = supervisor_client.get(
        reverse("supervisor-agent-log", args=[agent.pk]), {"tenant": tenant.pk}
    )
    fragment = supervisor_client.get(
        reverse("supervisor-agent-log", args=[agent.pk]), {"tenant": tenant.pk, "fragment": "1"}
    )

    html = page.content.decode()
    assert "Presence log of Ole Lund" in html
    states = [html.index(f'state-{p}">') for p in ("offline", "break", "available")]
    assert states == sorted(states)
    assert fragment.content.decode().lstrip().startswith('<section id="sv-agent-log"')


# --- reassigning conversations ----------------------------------------------------------------


def assign(client, conv, tenant, assignee):
    url = reverse("supervisor-conversation-assign", args=[conv.pk])
    return client.post(url, {"tenant": tenant.pk, "assignee": assignee})


def test_supervisor_gives_an_unassigned_conversation_to_an_agent(supervisor_client, tenant, queue):
    # given an open conversation nobody holds and an available agent
    agent = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)
    conv = conversation(tenant, queue, subject="Broken meter")

    # when the supervisor assigns it
    response = assign(supervisor_client, conv, tenant, agent.pk)

    # then the agent holds it and it leaves the unassigned list
    assert response.status_code == 200, response.content
    conv.refresh_from_db()
    assert conv.assignee == agent.user
    html = response.content.decode()
    assert 'id="sv-conversations"' in html
    assert f'data-conversation="{conv.pk}"' not in html


def test_assigning_to_someone_outside_the_tenant_is_refused(
    supervisor_client, tenant, other_tenant, queue
):
    conv = conversation(tenant, queue)
    outsider = AgentProfileFactory(tenant=other_tenant)

    response = assign(supervisor_client, conv, tenant, outsider.pk)

    assert response.status_code == 400
    assert "does not work for this tenant" in response.content.decode()
    conv.refresh_from_db()
    assert conv.assignee is None
    assert assign(supervisor_client, conv, tenant, "abc").status_code == 400


def test_another_tenants_conversation_is_not_found(supervisor_client, tenant, other_tenant):
    theirs = conversation(other_tenant, QueueFactory(tenant=other_tenant))
    agent = AgentProfileFactory(tenant=tenant)

    assert assign(supervisor_client, theirs, tenant, agent.pk).status_code == 404
    theirs.refresh_from_db()
    assert theirs.assignee is None


def test_agents_cannot_reassign_conversations_from_the_wallboard(agent_client, tenant, queue):
    conv = conversation(tenant, queue, status=ConversationStatus.OPEN)
    colleague = AgentProfileFactory(tenant=tenant)

    assert assign(agent_client, conv, tenant, colleague.pk).status_code == 403
    conv.refresh_from_db()
    assert conv.assignee is None


def test_supervisor_moves_a_held_conversation_to_another_agent_or_back_to_the_queue(
    supervisor_client, tenant, queue
):
    # given a conversation held by one agent
    swamped = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)
    free = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)
    conv = conversation(tenant, queue, assignee=swamped.user, subject="Moving house")
    html = supervisor_client.get(
        reverse("supervisor-panel", args=["conversations"]), {"tenant": tenant.pk}
    ).content.decode()
    assert f'data-held-conversation="{conv.pk}"' in html

    # when the supervisor moves it to a free colleague
    response = assign(supervisor_client, conv, tenant, free.pk)

    # then the colleague holds it, and the panel says so
    assert response.status_code == 200, response.content
    conv.refresh_from_db()
    assert conv.assignee == free.user
    row = response.content.decode()
    row = row[row.index(f'data-held-conversation="{conv.pk}"') :][:800]
    assert free.user.get_full_name() in row

    # and "nobody" puts it back in the queue, where it shows as unassigned
    response = assign(supervisor_client, conv, tenant, "none")
    assert response.status_code == 200, response.content
    conv.refresh_from_db()
    assert conv.assignee is None
    assert f'data-conversation="{conv.pk}"' in response.content.decode()


def test_an_empty_choice_is_refused_and_unassigns_nothing(supervisor_client, tenant, queue):
    agent = AgentProfileFactory(tenant=tenant)
    conv = conversation(tenant, queue, assignee=agent.user)

    response = assign(supervisor_client, conv, tenant, "")

    assert response.status_code == 400
    assert "Choose an agent" in response.content.decode()
    conv.refresh_from_db()
    assert conv.assignee == agent.user
