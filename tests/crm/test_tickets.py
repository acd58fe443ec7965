"""crm.services.tickets: numbering, status transitions, assignment, first response, notes."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from crm.models import AuditEntry, Role, Tenant, Ticket, TicketPriority, TicketStatus
from crm.selectors.tickets import notes_for_ticket, tickets_for
from crm.services.tickets import (
    ALLOWED_TRANSITIONS,
    TransitionNotAllowed,
    note_add,
    ticket_assign,
    ticket_create,
    ticket_record_first_response,
    ticket_transition,
    ticket_update,
)
from tests.conftest import member
from tests.crm.factories import ContactFactory, QueueFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

S = TicketStatus


@pytest.fixture
def contact(tenant):
    return ContactFactory(tenant=tenant, first_name="Anna", last_name="Berg")


@pytest.fixture
def ticket(tenant, agent, contact):
    return ticket_create(
        tenant=tenant, actor=agent, subject="No power since Monday", contact=contact
    )


# --- create ----------------------------------------------------------------------------------


def test_ticket_numbers_count_per_tenant(tenant, other_tenant, agent):
    numbers = [
        ticket_create(tenant=t, actor=None, subject=f"T{n}").number
        for n, t in enumerate([tenant, tenant, other_tenant, tenant, other_tenant])
    ]

    assert numbers == [1, 2, 1, 3, 2]
    tenant.refresh_from_db()
    assert tenant.last_ticket_number == 3


def test_a_new_ticket_is_on_the_contacts_timeline_audited_and_announced(
    tenant, agent, contact, received, django_capture_on_commit_callbacks
):
    queue = QueueFactory(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ticket_create(
            tenant=tenant,
            actor=agent,
            subject="No power",
            contact=contact,
            priority=TicketPriority.HIGH,
            queue=queue,
            assignee=agent.user,
            tags=["outage"],
        )

    assert (ticket.status, ticket.created_by, ticket.queue) == (S.NEW, agent.user, queue)
    assert list(ticket.tags.values_list("name", flat=True)) == ["outage"]
    entry = contact.timeline.get()
    assert (entry.kind, entry.ticket, entry.summary) == (
        "ticket.created",
        ticket,
        "Ticket #1 opened: No power",
    )
    assert AuditEntry.objects.get(object_type="crm.ticket").action == "create"
    assert [e.name for e in received] == ["ticket.created", "ticket.assigned"]


def test_links_to_other_tenants_and_non_members_are_refused(tenant, other_tenant, agent):
    with pytest.raises(ValidationError) as error:
        ticket_create(
            tenant=tenant, actor=agent, subject="x", contact=ContactFactory(tenant=other_tenant)
        )
    assert "contact" in error.value.message_dict

    outsider = member(other_tenant, Role.AGENT)
    with pytest.raises(ValidationError) as error:
        ticket_create(tenant=tenant, actor=agent, subject="x", assignee=outsider)
    assert "not a member" in error.value.message_dict["assignee"][0]

    with pytest.raises(ValidationError):
        ticket_create(tenant=tenant, actor=agent, subject="   ")
    assert not Ticket.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creators_never_share_a_number(tenant):
    # given eight threads opening tickets for one tenant at once
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_tickets() -> None:
        try:
            barrier.wait()
            for n in range(5):
                ticket_create(tenant=Tenant.objects.get(pk=tenant.pk), actor=None, subject=f"{n}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_tickets) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then all forty got distinct numbers 1..40, with no gap
    assert errors == []
    assert sorted(Ticket.objects.values_list("number", flat=True)) == list(range(1, 41))
    assert connection.vendor == "postgresql"


# --- transitions -----------------------------------------------------------------------------


def test_closed_is_final_and_nothing_returns_to_new():
    assert ALLOWED_TRANSITIONS[S.CLOSED] == frozenset()
    assert all(S.NEW not in targets for targets in ALLOWED_TRANSITIONS.values())
    assert set(ALLOWED_TRANSITIONS) == set(S.values)


def test_a_forbidden_transition_names_the_allowed_ones(ticket, agent):
    ticket_transition(ticket=ticket, status=S.SOLVED, actor=agent)

    with pytest.raises(TransitionNotAllowed) as error:
        ticket_transition(ticket=ticket, status=S.PENDING, actor=agent)

    assert (error.value.current, error.value.requested) == ("solved", "pending")
    assert error.value.allowed == ["closed", "open"]
    assert "can become: closed, open" in str(error.value)
    ticket.refresh_from_db()
    assert ticket.status == S.SOLVED


def test_an_unknown_status_is_a_forbidden_transition(ticket, agent):
    with pytest.raises(TransitionNotAllowed) as error:
        ticket_transition(ticket=ticket, status="archived", actor=agent)
    assert error.value.allowed == ["closed", "on_hold", "open", "pending", "solved"]


def test_a_stale_ticket_object_cannot_skip_the_rules(ticket, agent):
    # given two agents holding the same ticket; one closes it
    stale = Ticket.objects.get(pk=ticket.pk)
    ticket_transition(ticket=ticket, status=S.CLOSED, actor=agent)

    # when the other, still seeing "new", tries to open it
    with pytest.raises(TransitionNotAllowed) as error:
        ticket_transition(ticket=stale, status=S.OPEN, actor=agent)

    # then the rule is checked against the database
    assert error.value.current == S.CLOSED
    assert error.value.allowed == []


def test_a_tag_name_too_long_to_store_is_a_field_error(tenant, agent):
    with pytest.raises(ValidationError) as error:
        ticket_create(tenant=tenant, actor=agent, subject="Outage", tags=["x" * 61])

    assert list(error.value.message_dict) == ["tags"]
    assert not Ticket.objects.exists()


def test_updating_a_stale_ticket_object_keeps_a_concurrent_status_change(ticket, agent):
    # given an agent who read the ticket while it was new; a colleague then closes it
    stale = Ticket.objects.get(pk=ticket.pk)
    ticket_transition(ticket=ticket, status=S.CLOSED, actor=agent)

    # when the first agent saves a new subject from their stale copy
    ticket_update(ticket=stale, actor=agent, subject="Outage in Aarhus")

    # then the subject changed and the ticket is still closed, with its timestamps
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.status) == ("Outage in Aarhus", S.CLOSED)
    assert ticket.closed_at is not None
    assert ticket.resolved_at is not None


def test_solving_closing_and_reopening_keep_the_timestamps_right(
    ticket, agent, contact, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_transition(ticket=ticket, status=S.OPEN, actor=agent)
        assert ticket.resolved_at is None
        assert ticket.first_response_at is None  # a status change is not a response

        ticket_transition(ticket=ticket, status=S.SOLVED, actor=agent)
        solved_at = ticket.resolved_at
        assert solved_at is not None

        ticket_transition(ticket=ticket, status=S.OPEN, actor=agent)  # the customer objects
        assert ticket.resolved_at is None

        ticket_transition(ticket=ticket, status=S.CLOSED, actor=agent)  # closed without solving

    ticket.refresh_from_db()
    assert ticket.status == S.CLOSED
    assert ticket.closed_at is not None
    assert ticket.resolved_at == ticket.closed_at
    assert ticket.resolved_at > solved_at
    kinds = list(contact.timeline.values_list("kind", "data"))
    assert kinds[0] == ("ticket.status_changed", {"previous": "open", "status": "closed"})
    assert [e.payload["previous_status"] for e in received] == ["new", "open", "solved", "open"]
    assert AuditEntry.objects.filter(object_type="crm.ticket", action="update").count() == 4


def test_moving_to_the_current_status_changes_nothing(ticket, agent):
    ticket_transition(ticket=ticket, status=S.NEW, actor=agent)
    assert not AuditEntry.objects.filter(action="update").exists()


# --- update, assign, first response, notes ---------------------------------------------------


def test_update_changes_fields_but_never_the_status(
    ticket, agent, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_update(ticket=ticket, actor=agent, priority=TicketPriority.URGENT, tags=["a"])
    with pytest.raises(TypeError, match="ticket_transition"):
        ticket_update(ticket=ticket, actor=agent, status=S.CLOSED)

    ticket.refresh_from_db()
    assert (ticket.priority, ticket.status) == (TicketPriority.URGENT, S.NEW)
    assert [(e.name, e.payload["fields"]) for e in received] == [
        ("ticket.updated", ["priority", "tags"])
    ]


def test_assign_only_to_members_of_the_tenant(
    tenant, other_tenant, ticket, agent, received, django_capture_on_commit_callbacks
):
    colleague = member(tenant, Role.AGENT)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_assign(ticket=ticket, assignee=colleague, actor=agent)
    with pytest.raises(ValidationError):
        ticket_assign(ticket=ticket, assignee=UserFactory(), actor=agent)

    ticket.refresh_from_db()
    assert ticket.assignee == colleague
    assigned = [e for e in received if e.name == "ticket.assigned"]
    assert [(e.payload["assignee_id"], e.payload["previous_assignee_id"]) for e in assigned] == [
        (colleague.pk, None)
    ]


def test_first_response_is_recorded_once(ticket):
    assert ticket_record_first_response(ticket=ticket) is True
    first = Ticket.objects.get(pk=ticket.pk).first_response_at

    assert ticket_record_first_response(ticket=ticket) is False
    assert Ticket.objects.get(pk=ticket.pk).first_response_at == first


def test_a_note_on_a_ticket_lands_on_its_contacts_timeline(
    ticket, agent, contact, received, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        note = note_add(actor=agent, body="Customer rang again\nDetails…", ticket=ticket)

    assert (note.contact, note.ticket, note.author) == (contact, ticket, agent.user)
    entry = contact.timeline.first()
    assert (entry.kind, entry.summary, entry.ticket) == (
        "note.added",
        "Customer rang again",
        ticket,
    )
    assert list(notes_for_ticket(ticket=ticket)) == [note]
    assert [e.name for e in received] == ["note.added"]
    with pytest.raises(ValidationError):
        note_add(actor=agent, body="  ", ticket=ticket)


def test_a_note_naming_a_ticket_and_another_contact_is_refused(tenant, ticket, agent):
    someone_else = ContactFactory(tenant=tenant)

    with pytest.raises(ValidationError) as error:
        note_add(actor=agent, body="Rang about it", ticket=ticket, contact=someone_else)

    assert list(error.value.message_dict) == ["contact"]
    assert not someone_else.timeline.exists()
    assert not ticket.notes.exists()


def test_tickets_for_loads_a_page_in_two_queries(
    tenant, other_tenant, agent, django_assert_num_queries
):
    queue = QueueFactory(tenant=tenant)
    for n in range(4):
        ticket_create(
            tenant=tenant,
            actor=agent,
            subject=f"T{n}",
            contact=ContactFactory(tenant=tenant),
            queue=queue,
            assignee=agent.user,
            tags=["x"],
        )
    ticket_create(tenant=other_tenant, actor=None, subject="hidden")

    with django_assert_num_queries(2):
        rows = [
            (
                t.contact.first_name,
                t.queue.name,
                t.assignee.username,
                [g.name for g in t.tags.all()],
            )
            for t in tickets_for(agent)
        ]

    assert len(rows) == 4


def test_numbering_continues_after_tickets_written_without_the_service(tenant):
    # given a ticket imported with number 41 while the tenant's counter was never bumped
    TicketFactory(tenant=tenant, number=41)

    # when the next ticket is opened through the service
    ticket = ticket_create(tenant=tenant, actor=None, subject="After the import")

    # then it takes the next free number instead of failing on the unique constraint
    assert ticket.number == 42
