"""The agent's presence indicator follows changes made elsewhere (a supervisor, the system):
the fragment listens for `agent.status_changed` and re-fetches itself with GET."""

from __future__ import annotations

from crm.models import Presence
from crm.services.presence import agent_set_presence
from crm.tenancy import principal_for_user


def test_the_presence_fragment_listens_for_its_agents_status_changes(agent_client, agent_profile):
    page = agent_client.get("/agent/").content.decode()

    assert 'data-live-events="agent.status_changed"' in page
    assert f'data-live-url="/agent/presence/?tenant={agent_profile.tenant_id}"' in page


def test_a_supervisors_change_shows_in_the_refetched_fragment(
    agent_client, agent_profile, supervisor_user
):
    # given an available agent
    agent_set_presence(agent=agent_profile, presence=Presence.AVAILABLE, reason="", actor=None)
    # when a supervisor sends them on a break
    agent_set_presence(
        agent=agent_profile,
        presence=Presence.BREAK,
        reason="Training",
        actor=principal_for_user(supervisor_user),
    )
    # then the fragment the live event makes the page fetch shows it
    response = agent_client.get(f"/agent/presence/?tenant={agent_profile.tenant_id}")

    assert response.status_code == 200
    body = response.content.decode()
    assert "presence-break" in body
    assert "Training" in body


def test_reading_the_fragment_changes_nothing(agent_client, agent_profile):
    agent_set_presence(agent=agent_profile, presence=Presence.OFFLINE, reason="", actor=None)

    agent_client.get(f"/agent/presence/?tenant={agent_profile.tenant_id}&presence=available")

    agent_profile.refresh_from_db()
    assert agent_profile.presence == Presence.OFFLINE
