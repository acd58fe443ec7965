"""/api/v1/tickets/: open, change, move through statuses, notes, filters."""

from __future__ import annotations

import pytest

from crm.models import Note, Role, Tag, Ticket, TicketStatus
from crm.services.tickets import ALLOWED_TRANSITIONS
from tests.conftest import member
from tests.crm.api_support import ids, key_client, results, session_client
from tests.crm.factories import ContactFactory, QueueFactory, TicketFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_api_state")]
TICKETS = "/api/v1/tickets/"


@pytest.fixture
def client(agent_user):
    return session_client(agent_user)


def test_open_a_ticket_numbered_in_its_tenant(client, tenant, agent_user):
    # given a contact and a queue
    contact = ContactFactory(tenant=tenant)
    queue = QueueFactory(tenant=tenant)

    # when an agent opens two tickets
    first = client.post(
        TICKETS,
        {
            "subject": "Router broken",
            "contact": contact.pk,
            "queue": queue.pk,
            "assignee": agent_user.pk,
            "priority": 3,
            "tags": ["fibre"],
        },
        format="json",
    )
    second = client.post(TICKETS, {"subject": "Invoice question"}, format="json")

    # then they are new, numbered 1 and 2 in the tenant, and carry what was given
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["number"], body["status"], body["tenant"]) == (1, "new", tenant.slug)
    assert (body["contact"], body["queue"], body["assignee"]) == (
        contact.pk,
        queue.pk,
        agent_user.pk,
    )
    assert body["tags"] == ["fibre"]
    assert body["created_by"] == agent_user.pk
    assert second.json()["number"] == 2


def test_api_key_opens_tickets_in_its_tenant(tenant):
    response = key_client(tenant, Role.AGENT).post(TICKETS, {"subject": "From the shop"})

    assert response.status_code == 201
    assert Ticket.objects.get(pk=response.json()["id"]).tenant == tenant


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "x", "priority": 9}, "priority"),
        ({"subject": "x", "contact": 999999}, "contact"),
        ({"subject": "x", "due_at": "tomorrow"}, "due_at"),
    ],
    ids=["missing-subject", "blank-subject", "bad-priority", "unknown-contact", "bad-date"],
)
def test_bad_input_is_400_naming_the_field(client, tenant, body, field):
    response = client.post(TICKETS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Ticket.objects.exists()


def test_assignee_must_work_for_the_tickets_tenant(client, tenant):
    outsider = UserFactory()

    response = client.post(TICKETS, {"subject": "x", "assignee": outsider.pk}, format="json")

    assert response.status_code == 400
    assert "assignee" in response.json()["error"]["fields"]


def test_patch_changes_fields_but_never_the_status(client, tenant):
    ticket = TicketFactory(tenant=tenant, subject="Old")

    response = client.patch(
        f"{TICKETS}{ticket.pk}/", {"subject": "New", "status": "closed"}, format="json"
    )

    assert response.status_code == 200
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.status) == ("New", TicketStatus.NEW)


# --- transitions ---


def test_allowed_transition_moves_the_ticket(client, tenant):
    ticket = TicketFactory(tenant=tenant)

    response = client.post(f"{TICKETS}{ticket.pk}/transition/", {"status": "solved"})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "solved"
    assert response.json()["resolved_at"] is not None


@pytest.mark.parametrize(
    ("current", "requested"),
    [("solved", "pending"), ("closed", "open"), ("open", "new")],
)
def test_forbidden_transition_is_409_listing_the_allowed_ones(client, tenant, current, requested):
    # given a ticket in `current`
    ticket = TicketFactory(tenant=tenant, status=current)

    # when asked to move where it may not go
    response = client.post(f"{TICKETS}{ticket.pk}/transition/", {"status": requested})

    # then 409 says which moves would work, and the ticket did not move
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "transition_not_allowed"
    assert error["allowed"] == sorted(ALLOWED_TRANSITIONS[current])
    ticket.refresh_from_db()
    assert ticket.status == current


def test_unknown_status_is_400(client, tenant):
    ticket = TicketFactory(tenant=tenant)

    response = client.post(f"{TICKETS}{ticket.pk}/transition/", {"status": "lost"})

    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]


# --- notes ---


def test_notes_are_added_and_listed_newest_first(client, tenant, agent_user):
    ticket = TicketFactory(tenant=tenant)

    first = client.post(f"{TICKETS}{ticket.pk}/notes/", {"body": "Called the customer"})
    client.post(f"{TICKETS}{ticket.pk}/notes/", {"body": "Sent a technician"})
    listed = results(client.get(f"{TICKETS}{ticket.pk}/notes/"))

    assert first.status_code == 201
    assert first.json()["author"]["id"] == agent_user.pk
    assert first.json()["contact"] == ticket.contact_id
    assert [n["body"] for n in listed] == ["Sent a technician", "Called the customer"]


def test_empty_note_is_400(client, tenant):
    ticket = TicketFactory(tenant=tenant)

    response = client.post(f"{TICKETS}{ticket.pk}/notes/", {"body": "  "})

    assert response.status_code == 400
    assert "body" in response.json()["error"]["fields"]
    assert not Note.objects.exists()


# --- filters, ordering, pagination ---


def test_filters(client, tenant, agent_user):
    queue = QueueFactory(tenant=tenant)
    urgent = TicketFactory(tenant=tenant, priority=4, queue=queue, assignee=agent_user)
    pending = TicketFactory(tenant=tenant, status="pending")
    tagged = TicketFactory(tenant=tenant)
    tagged.tags.add(Tag.objects.create(tenant=tenant, name="fibre"))

    assert ids(client.get(TICKETS, {"status": "pending"})) == {pending.pk}
    assert ids(client.get(TICKETS, {"status": ["pending", "new"]})) == {
        urgent.pk,
        pending.pk,
        tagged.pk,
    }
    assert ids(client.get(TICKETS, {"priority": 4})) == {urgent.pk}
    assert ids(client.get(TICKETS, {"queue": queue.pk})) == {urgent.pk}
    assert ids(client.get(TICKETS, {"assignee": agent_user.pk})) == {urgent.pk}
    assert ids(client.get(TICKETS, {"unassigned": "true"})) == {pending.pk, tagged.pk}
    assert ids(client.get(TICKETS, {"tag": "fibre"})) == {tagged.pk}


def test_bad_filter_value_is_400(client, tenant):
    response = client.get(TICKETS, {"status": "lost"})

    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]


def test_cursor_pages_cover_every_ticket_once(client, tenant):
    made = {TicketFactory(tenant=tenant).pk for _ in range(5)}

    seen, url = [], f"{TICKETS}?page_size=2"
    while url:
        page = client.get(url).json()
        seen += [t["id"] for t in page["results"]]
        url = page["next"]

    assert sorted(seen) == sorted(made)


def test_order_by_priority_on_request(client, tenant):
    low = TicketFactory(tenant=tenant, priority=1)
    high = TicketFactory(tenant=tenant, priority=4)

    ordered = [t["id"] for t in results(client.get(TICKETS, {"ordering": "-priority"}))]

    assert ordered == [high.pk, low.pk]


def test_viewer_of_the_tenant_reads_tickets(tenant):
    ticket = TicketFactory(tenant=tenant)
    viewer = session_client(member(tenant, Role.VIEWER))

    assert ids(viewer.get(TICKETS)) == {ticket.pk}
    assert viewer.post(f"{TICKETS}{ticket.pk}/transition/", {"status": "open"}).status_code == 403
