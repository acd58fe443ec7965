"""The supervisor wallboard (/supervisor/): who may open it and what it counts.

Helpers here (`inbound_call`, `conversation`, `inbound_message`, `testid`) are shared by the other
tests/workspace/test_supervisor_*.py modules.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_inbox.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
)
from crm.models import Presence, Role
from crm.services.presence import agent_set_presence
from crm.services.routing import work_item_enqueue
from crm.tenancy import principal_for_user
from telephony.models import Call, CallOutcome, CallStatus
from tests.conftest import member
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    QueueFactory,
    UserFactory,
    WorkItemFactory,
)

pytestmark = pytest.mark.django_db

PANELS = ("summary", "queues", "volume", "agents", "conversations", "log")
_sids = itertools.count(1)


# --- helpers shared by the supervisor tests ---------------------------------------------------


def inbound_call(tenant, queue, *, started_at=None, wait=None, answered=False, abandoned=False,
                 ended=True, agent=None, status=None, talk=None) -> Call:  # fmt: skip
    """An inbound call as the telephony services leave it once its timings are known."""
    started_at = started_at or timezone.now() - timedelta(minutes=2)
    queued_at = started_at + timedelta(seconds=10)
    answered_at = queued_at + timedelta(seconds=wait or 0) if answered else None
    if answered:
        outcome = CallOutcome.ANSWERED
    elif abandoned:
        outcome = CallOutcome.ABANDONED
    else:
        outcome = CallOutcome.VOICEMAIL if ended else ""
    return Call.objects.create(
        tenant=tenant,
        sid=f"CA{next(_sids):032x}",
        direction=Call.Direction.INBOUND,
        from_number="+4520304050",
        to_number="+4570100100",
        queue=queue,
        agent=agent,
        status=status or (CallStatus.COMPLETED if ended else CallStatus.IN_PROGRESS),
        started_at=started_at,
        queued_at=queued_at,
        answered_at=answered_at,
        ended_at=(answered_at or queued_at) + timedelta(seconds=(talk or wait or 30))
        if ended
        else None,
        wait_seconds=wait if (answered or ended) else None,
        talk_seconds=talk,
        abandoned=abandoned,
        outcome=outcome,
    )


def conversation(tenant, queue, *, assignee=None, status=ConversationStatus.OPEN, subject="Hi"):
    channel = Channel.objects.filter(tenant=tenant, kind="email").first() or Channel.objects.create(
        tenant=tenant, kind="email", name="Support mail", address="help@example.com", queue=queue
    )
    return Conversation.objects.create(
        tenant=tenant,
        channel=channel,
        contact=ContactFactory(tenant=tenant),
        queue=queue,
        assignee=assignee,
        status=status,
        subject=subject,
    )


def inbound_message(conv: Conversation, *, at=None) -> Message:
    return Message.objects.create(
        tenant=conv.tenant,
        conversation=conv,
        channel=conv.channel,
        direction=MessageDirection.INBOUND,
        kind="email",
        subject=conv.subject,
        text="Hello",
        created_at=at or timezone.now(),
    )


def text_of(html: str, name: str, after: str = "") -> str:
    """The text inside the first element with data-testid=`name` (after marker `after`)."""
    start = html.index(after) if after else 0
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)<', html[start:], re.S)
    assert match, f"no data-testid={name}"
    return match.group(1).strip()


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT])
def test_viewers_and_agents_cannot_open_the_wallboard_or_any_panel(client, tenant, role):
    client.force_login(member(tenant, role))
    assert client.get(reverse("supervisor-wallboard")).status_code == 403
    assert client.get(reverse("supervisor-board")).status_code == 403
    for name in PANELS:
        assert client.get(reverse("supervisor-panel", args=[name])).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("supervisor-wallboard"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_manager_may_open_it(client, manager_user):
    client.force_login(manager_user)
    assert client.get(reverse("supervisor-wallboard")).status_code == 200


def test_a_tenant_not_supervised_is_refused(supervisor_client, other_tenant):
    url = reverse("supervisor-wallboard")
    assert supervisor_client.get(url, {"tenant": other_tenant.pk}).status_code == 403
    panel = reverse("supervisor-panel", args=["agents"])
    assert supervisor_client.get(panel, {"tenant": other_tenant.pk}).status_code == 403


def test_an_unknown_panel_is_404(supervisor_client):
    assert supervisor_client.get(reverse("supervisor-panel", args=["secrets"])).status_code == 404


def test_every_panel_is_a_live_fragment_of_its_tenant(supervisor_client, tenant):
    html = supervisor_client.get(reverse("supervisor-wallboard")).content.decode()
    for name in PANELS:
        url = reverse("supervisor-panel", args=[name])
        assert f'data-live-url="{url}?tenant={tenant.pk}"' in html
        fragment = supervisor_client.get(url, {"tenant": tenant.pk}).content.decode()
        assert fragment.count("data-live-url=") == 1  # a swap replaces exactly that panel
    assert f'data-live-tenant="{tenant.pk}"' in html
    assert 'src="/static/js/live.js"' in html


# --- what it counts ---------------------------------------------------------------------------


def test_wallboard_counts_waiting_work_longest_wait_and_agents_in_state(
    supervisor_client, tenant, queue
):
    # given two items waiting (the oldest for five minutes) and one agent on a break
    WorkItemFactory(tenant=tenant, queue=queue, enqueued_at=timezone.now() - timedelta(minutes=5))
    WorkItemFactory(tenant=tenant, queue=queue)
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(username="ida"))
    AgentProfileFactory(tenant=tenant)  # offline
    agent_set_presence(agent=agent, presence=Presence.BREAK, reason="Lunch")

    # when the supervisor opens the wallboard
    html = supervisor_client.get(reverse("supervisor-wallboard")).content.decode()

    # then the queue and the headline say two wait, the oldest five minutes
    assert text_of(html, "waiting") == "2"
    queue_row = html[html.index(f'data-queue="{queue.pk}"') :][:1500]
    assert text_of(queue_row, "queue-waiting") == "2"
    assert 'data-seconds="30' in queue_row  # 300 s, give or take the test's own run time
    # and the agent is on a break for lunch; one agent per state is counted
    agent_row = html[html.index(f'data-agent="{agent.pk}"') :][:3000]
    assert text_of(agent_row, "agent-state") == "Break"
    assert text_of(agent_row, "agent-reason") == "Lunch"
    assert html.count("data-work-item=") == 2
    states = html[html.index('data-testid="agents-by-state"') :][:1500]
    assert '<li class="state state-break" data-state="break"><b>1</b>' in states
    assert '<li class="state state-offline" data-state="offline"><b>1</b>' in states


def test_service_level_abandoned_and_asa_today(supervisor_client, tenant, queue):
    # given today: two calls answered in 10 s and 40 s, one abandoned after 30 s, and yesterday
    # a call that must not count
    inbound_call(tenant, queue, answered=True, wait=10, talk=60)
    inbound_call(tenant, queue, answered=True, wait=40, talk=60)
    inbound_call(tenant, queue, abandoned=True, wait=30)
    inbound_call(
        tenant, queue, started_at=timezone.now() - timedelta(days=2), abandoned=True, wait=9
    )

    html = supervisor_client.get(reverse("supervisor-wallboard")).content.decode()

    # then 1 of 3 was answered within 20 s: 33 %; one abandoned; ASA (10 + 40) / 2 = 25 s
    assert text_of(html, "service-level") == "33 %"
    assert text_of(html, "abandoned") == "1"
    assert text_of(html, "asa") == "25 s"
    queue_row = html[html.index(f'data-queue="{queue.pk}"') :][:1500]
    assert text_of(queue_row, "queue-calls") == "3"


def test_no_calls_today_shows_a_dash_not_zero_percent(supervisor_client):
    html = supervisor_client.get(reverse("supervisor-wallboard")).content.decode()
    assert text_of(html, "service-level") == "—"
    assert text_of(html, "asa") == "—"


def test_unassigned_open_conversations_are_listed_and_counted(supervisor_client, tenant, queue):
    # given an open conversation nobody holds, one held by an agent, and a resolved one
    agent = AgentProfileFactory(tenant=tenant)
    waiting = conversation(tenant, queue, subject="Invoice question")
    held = conversation(tenant, queue, assignee=agent.user, subject="Held")
    conversation(tenant, queue, status=ConversationStatus.RESOLVED, subject="Done")

    html = supervisor_client.get(reverse("supervisor-wallboard")).content.decode()

    assert text_of(html, "unassigned-conversations") == "1"
    assert f'data-conversation="{waiting.pk}"' in html
    assert "Invoice question" in html
    assert f'data-conversation="{held.pk}"' not in html
    # and the agent holding one shows it as current work
    agent_row = html[html.index(f'data-agent="{agent.pk}"') :][:3000]
    assert "1 conversation" in agent_row


def test_an_agent_on_a_call_shows_it_as_current_work(supervisor_client, tenant, queue):
    agent = AgentProfileFactory(tenant=tenant)
    agent_set_presence(agent=agent, presence=Presence.BUSY)
    call = inbound_call(tenant, queue, answered=True, wait=5, ended=False, agent=agent)

    html = supervisor_client.get(reverse("supervisor-wallboard")).content.decode()

    agent_row = html[html.index(f'data-agent="{agent.pk}"') :][:3000]
    assert f'data-call="{call.pk}"' in agent_row
    assert "On a call" in agent_row


def test_volume_chart_counts_calls_and_messages_per_quarter_hour_in_the_supervisors_zone(
    client, tenant, queue, supervisor_user, monkeypatch
):
    # given a supervisor in Copenhagen (UTC+1 in November) and, at 09:05 UTC (10:05 local),
    # two calls and one message, at 09:20 UTC one message; and yesterday a call that must not
    # count
    supervisor_user.time_zone = "Europe/Copenhagen"
    supervisor_user.save(update_fields=["time_zone"])
    now = datetime(2026, 11, 20, 9, 40, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: now)
    inbound_call(tenant, queue, started_at=datetime(2026, 11, 20, 9, 5, tzinfo=UTC))
    inbound_call(tenant, queue, started_at=datetime(2026, 11, 20, 9, 14, 59, tzinfo=UTC))
    inbound_call(tenant, queue, started_at=datetime(2026, 11, 19, 9, 5, tzinfo=UTC))
    conv = conversation(tenant, queue)
    inbound_message(conv, at=datetime(2026, 11, 20, 9, 6, tzinfo=UTC))
    inbound_message(conv, at=datetime(2026, 11, 20, 9, 20, tzinfo=UTC))
    client.force_login(supervisor_user)

    html = client.get(reverse("supervisor-panel", args=["volume"])).content.decode()

    # then the table rows are the local intervals 10:00 and 10:15, and the SVG draws them
    rows = re.findall(
        r'<tr data-slot="([\d:]+)"><td>[\d:]+</td><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td></tr>',
        html,
    )
    assert rows == [("10:00", "2", "1"), ("10:15", "0", "1")]
    assert html.count('<rect class="bar-calls"') == 1
    assert html.count('<rect class="bar-messages"') == 2
    assert "10:00 · 2 calls" in html


def test_wallboard_never_shows_another_tenants_agents_queues_or_work(
    supervisor_client, tenant, other_tenant
):
    # given another tenant with a queue, waiting work, an agent, a conversation and calls
    theirs = QueueFactory(tenant=other_tenant, name="Their queue")
    item = WorkItemFactory(tenant=other_tenant, queue=theirs)
    their_agent = AgentProfileFactory(tenant=other_tenant, works_remotely=True)
    agent_set_presence(agent=their_agent, presence=Presence.AVAILABLE)
    their_conversation = conversation(other_tenant, theirs)
    inbound_call(other_tenant, theirs, abandoned=True, wait=30)

    html = supervisor_client.get(reverse("supervisor-wallboard")).content.decode()

    assert "Their queue" not in html
    assert f'data-work-item="{item.pk}"' not in html
    assert f'data-agent="{their_agent.pk}"' not in html
    assert f'data-conversation="{their_conversation.pk}"' not in html
    assert text_of(html, "abandoned") == "0"
    assert text_of(html, "unassigned-conversations") == "0"
    assert "data-log=" not in html


def test_presence_change_is_visible_on_the_agents_panel(supervisor_client, tenant, queue):
    agent = AgentProfileFactory(tenant=tenant)
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
    work_item_enqueue(tenant_id=tenant.pk, queue=queue, kind="call", channel_kind="voice")

    html = supervisor_client.get(reverse("supervisor-panel", args=["agents"])).content.decode()

    agent_row = html[html.index(f'data-agent="{agent.pk}"') :][:3000]
    assert text_of(agent_row, "agent-state") == "Available"
    assert text_of(agent_row, "agent-active-work") == "1"  # the offer holds one unit of work
    assert "1 ringing" in agent_row


def test_remote_agents_presence_log_says_who_changed_it(supervisor_client, tenant, supervisor_user):
    # given a remote agent who went available, then was put on a break by the supervisor, and
    # an on-site agent whose changes are not in this panel
    remote = AgentProfileFactory(
        tenant=tenant, works_remotely=True, user=UserFactory(first_name="Rita", last_name="Home")
    )
    on_site = AgentProfileFactory(tenant=tenant)
    agent_set_presence(
        agent=remote, presence=Presence.AVAILABLE, actor=principal_for_user(remote.user)
    )
    agent_set_presence(
        agent=remote,
        presence=Presence.BREAK,
        reason="Meeting",
        actor=principal_for_user(supervisor_user),
    )
    agent_set_presence(agent=on_site, presence=Presence.AVAILABLE)

    html = supervisor_client.get(reverse("supervisor-panel", args=["log"])).content.decode()

    assert html.count("data-log=") == 2
    assert "Rita Home" in html
    changed_by = re.findall(r'data-testid="changed-by">(.*?)</td>', html, re.S)
    name = supervisor_user.get_full_name()
    assert [c.strip() for c in changed_by] == [name, "the agent"]  # newest first
    assert "Meeting" in html


def test_the_voice_monitor_buttons_are_included_for_agents_on_a_call_when_present(
    supervisor_client, tenant, queue, settings, tmp_path
):
    from contactcenter.workspace import supervisor_views

    # given the voice app's monitor fragment (here a stand-in) and an agent on a call
    folder = tmp_path / "supervisor"
    folder.mkdir()
    (folder / "_monitor.html").write_text(
        '<span class="monitor" data-monitor-call="{{ call.pk }}" data-agent-id="{{ agent.pk }}">'
        "</span>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    supervisor_views._monitor_template.cache_clear()
    busy = AgentProfileFactory(tenant=tenant)
    idle = AgentProfileFactory(tenant=tenant)
    call = inbound_call(tenant, queue, answered=True, wait=5, ended=False, agent=busy)
    try:
        html = supervisor_client.get(reverse("supervisor-panel", args=["agents"])).content.decode()
    finally:
        supervisor_views._monitor_template.cache_clear()

    # then the buttons sit in the busy agent's row, with the call and the agent, and only there
    assert html.count('class="monitor"') == 1
    row = html[html.index(f'data-agent="{busy.pk}"') :][:3000]
    assert f'data-monitor-call="{call.pk}" data-agent-id="{busy.pk}"' in row
    assert f'data-agent="{idle.pk}"' in html


def test_without_the_monitor_fragment_the_wallboard_still_renders(supervisor_client, tenant, queue):
    from contactcenter.workspace import supervisor_views

    busy = AgentProfileFactory(tenant=tenant)
    inbound_call(tenant, queue, answered=True, wait=5, ended=False, agent=busy)
    supervisor_views._monitor_template.cache_clear()
    try:
        response = supervisor_client.get(reverse("supervisor-panel", args=["agents"]))
    finally:
        supervisor_views._monitor_template.cache_clear()

    assert response.status_code == 200
    assert "On a call" in response.content.decode()
