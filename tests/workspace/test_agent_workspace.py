"""The agent workspace (/agent/): presence, offers, the work list and the contact panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.models import Offer, Presence, PresenceLog, TicketStatus, WorkItem
from crm.services.routing import work_item_enqueue
from crm.services.timeline import timeline_add
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    ContactIdentityFactory,
    QueueFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db


def _enqueue(queue, **kwargs):
    return work_item_enqueue(
        tenant_id=queue.tenant_id, queue=queue, kind="call", channel_kind="voice", **kwargs
    )


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("agent-workspace"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_member_who_is_not_an_agent_is_refused(client, viewer_user):
    client.force_login(viewer_user)
    assert client.get(reverse("agent-workspace")).status_code == 403


def test_workspace_shows_presence_and_empty_work_list(agent_client, agent_profile):
    response = agent_client.get(reverse("agent-workspace"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="presence-now">Offline' in html
    assert "No offers right now." in html
    assert "/static/vendor/htmx.min.js" in html
    assert "/static/js/live.js" in html


def test_going_available_is_logged_and_brings_the_waiting_offer(agent_client, agent_profile, queue):
    # given work waiting while the agent is offline
    item = _enqueue(queue)
    assert item.status == WorkItem.Status.WAITING

    # when the agent goes available
    response = agent_client.post(reverse("agent-presence"), {"presence": "available"})

    # then presence is set and logged, the page is told to refresh its work list, and the
    # routing engine offered the waiting item
    assert response.status_code == 200
    assert response["HX-Trigger"] == "work-changed"
    agent_profile.refresh_from_db()
    assert agent_profile.presence == Presence.AVAILABLE
    assert PresenceLog.objects.filter(agent=agent_profile, presence="available").exists()
    offer = Offer.objects.get(work_item=item)
    assert offer.agent == agent_profile
    work = agent_client.get(reverse("agent-work")).content.decode()
    assert f'data-offer="{offer.pk}"' in work
    assert f'data-expires-at="{offer.expires_at.isoformat()}"' in work


def test_break_keeps_its_reason_and_other_states_drop_it(agent_client, agent_profile):
    agent_client.post(reverse("agent-presence"), {"presence": "break", "reason": "Lunch"})
    agent_profile.refresh_from_db()
    assert (agent_profile.presence, agent_profile.presence_reason) == ("break", "Lunch")

    agent_client.post(reverse("agent-presence"), {"presence": "offline", "reason": "Lunch"})
    agent_profile.refresh_from_db()
    assert (agent_profile.presence, agent_profile.presence_reason) == ("offline", "")


def test_busy_and_unknown_states_are_not_agent_choices(agent_client, agent_profile):
    for presence in ("busy", "asleep"):
        response = agent_client.post(reverse("agent-presence"), {"presence": presence})
        assert response.status_code == 400
    agent_profile.refresh_from_db()
    assert agent_profile.presence == Presence.OFFLINE


def test_accepting_an_offer_moves_it_to_assigned(agent_client, agent_profile, queue):
    # given an offer to the agent
    agent_client.post(reverse("agent-presence"), {"presence": "available"})
    item = _enqueue(queue)
    offer = Offer.objects.get(work_item=item, status=Offer.Status.PENDING)

    # when they accept it
    response = agent_client.post(reverse("agent-offer-respond", args=[offer.pk, "accept"]))

    # then the item is theirs and the fragment lists it as assigned, no longer as an offer
    html = response.content.decode()
    item.refresh_from_db()
    assert item.status == WorkItem.Status.ASSIGNED
    assert f'data-work-item="{item.pk}"' in html
    assert f'data-offer="{offer.pk}"' not in html


def test_declining_an_offer_releases_the_item(agent_client, agent_profile, queue):
    agent_client.post(reverse("agent-presence"), {"presence": "available"})
    item = _enqueue(queue)
    offer = Offer.objects.get(work_item=item)

    agent_client.post(reverse("agent-offer-respond", args=[offer.pk, "decline"]))

    offer.refresh_from_db()
    item.refresh_from_db()
    assert offer.status == Offer.Status.DECLINED
    assert item.status == WorkItem.Status.WAITING


def test_an_expired_offer_says_so(agent_client, agent_profile, queue):
    agent_client.post(reverse("agent-presence"), {"presence": "available"})
    item = _enqueue(queue)
    Offer.objects.filter(work_item=item).update(expires_at=timezone.now() - timedelta(seconds=1))
    offer = Offer.objects.get(work_item=item)

    response = agent_client.post(reverse("agent-offer-respond", args=[offer.pk, "accept"]))

    assert response.status_code == 200
    assert "expired" in response.content.decode()
    item.refresh_from_db()
    assert item.status != WorkItem.Status.ASSIGNED


def test_another_agents_offer_cannot_be_answered(agent_client, tenant, queue):
    # given an offer made to a colleague
    colleague = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)
    item = _enqueue(queue)
    offer = Offer.objects.get(work_item=item, agent=colleague)

    # when our agent tries to accept it
    response = agent_client.post(reverse("agent-offer-respond", args=[offer.pk, "accept"]))

    # then it is not found and stays the colleague's
    assert response.status_code == 404
    offer.refresh_from_db()
    assert offer.status == Offer.Status.PENDING


def test_work_list_orders_tickets_by_priority_then_age_and_filters(
    agent_client, agent_profile, tenant
):
    # given three open tickets of the agent, one solved, and one of a colleague
    sales = QueueFactory(tenant=tenant, name="Sales")
    old_normal = TicketFactory(tenant=tenant, assignee=agent_profile.user, priority=2)
    urgent = TicketFactory(tenant=tenant, assignee=agent_profile.user, priority=4, queue=sales)
    new_normal = TicketFactory(
        tenant=tenant, assignee=agent_profile.user, priority=2, status=TicketStatus.PENDING
    )
    solved = TicketFactory(tenant=tenant, assignee=agent_profile.user, status=TicketStatus.SOLVED)
    colleagues = TicketFactory(tenant=tenant)

    # when the work list is read, then filtered
    html = agent_client.get(reverse("agent-work")).content.decode()
    by_queue = agent_client.get(reverse("agent-work"), {"queue": sales.pk}).content.decode()
    by_status = agent_client.get(reverse("agent-work"), {"status": "pending"}).content.decode()

    # then
    positions = [html.index(f'data-ticket="{t.pk}"') for t in (urgent, old_normal, new_normal)]
    assert positions == sorted(positions)
    assert f'data-ticket="{solved.pk}"' not in html
    assert f'data-ticket="{colleagues.pk}"' not in html
    assert f'data-ticket="{urgent.pk}"' in by_queue
    assert f'data-ticket="{old_normal.pk}"' not in by_queue
    assert f'data-ticket="{new_normal.pk}"' in by_status
    assert f'data-ticket="{urgent.pk}"' not in by_status


def test_contact_panel_shows_identities_and_timeline_newest_first(
    agent_client, agent_profile, tenant
):
    # given a contact with an identity and two timeline entries
    contact = ContactFactory(tenant=tenant, first_name="Ingrid", last_name="Berg")
    ContactIdentityFactory(contact=contact, value="+4520123456")
    now = timezone.now()
    timeline_add(
        tenant_id=tenant.pk,
        contact=contact,
        kind="note",
        summary="First call",
        occurred_at=now - timedelta(hours=1),
    )
    timeline_add(
        tenant_id=tenant.pk, contact=contact, kind="note", summary="Second call", occurred_at=now
    )

    # when the agent opens the panel
    response = agent_client.get(reverse("agent-contact", args=[contact.pk]))

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ingrid Berg" in html
    assert "+4520123456" in html
    assert html.index("Second call") < html.index("First call")


def test_times_are_shown_in_the_users_time_zone(agent_client, agent_profile, tenant):
    # given a user in Warsaw and a contact entry at 12:00 UTC
    agent_profile.user.time_zone = "Europe/Warsaw"
    agent_profile.user.save(update_fields=["time_zone"])
    contact = ContactFactory(tenant=tenant)
    at = timezone.now().replace(month=1, day=15, hour=12, minute=0, second=0, microsecond=0)
    timeline_add(
        tenant_id=tenant.pk, contact=contact, kind="note", summary="Winter", occurred_at=at
    )

    html = agent_client.get(reverse("agent-contact", args=[contact.pk])).content.decode()

    # then it reads 13:00 (CET), not 12:00
    assert f"15 Jan {at.year}, 13:00" in html
    assert "12:00" not in html
