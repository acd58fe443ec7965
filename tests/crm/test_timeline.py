"""crm.services.timeline and crm.selectors.timeline: the contact's history, newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.selectors.timeline import timeline_for_contact
from crm.services.timeline import timeline_add
from crm.tenancy import principal_for_user
from tests.crm.factories import ContactFactory, TicketFactory

pytestmark = pytest.mark.django_db


def test_entries_from_any_app_come_back_newest_first(tenant, agent_user):
    # given a call an hour ago and a message now, recorded out of order
    contact = ContactFactory(tenant=tenant)
    now = timezone.now()
    message = timeline_add(
        tenant_id=tenant.pk,
        contact=contact,
        kind="message.received",
        summary="SMS: is the outage over?",
        ref_type="channels_inbox.message",
        ref_id=42,
        occurred_at=now,
    )
    call = timeline_add(
        tenant_id=tenant.pk,
        contact=contact,
        kind="call.ended",
        summary="Inbound call, 3 min",
        actor=principal_for_user(agent_user),
        data={"duration": 180},
        occurred_at=now - timedelta(hours=1),
    )

    # when the timeline is read
    entries = list(timeline_for_contact(contact=contact))

    # then the newest is first, with what each app stored
    assert entries == [message, call]
    assert (message.ref_type, message.ref_id) == ("channels_inbox.message", "42")
    assert (call.actor, call.data) == (agent_user, {"duration": 180})


def test_entries_at_the_same_moment_keep_a_stable_order(tenant):
    contact = ContactFactory(tenant=tenant)
    at = timezone.now()
    first, second = (
        timeline_add(tenant_id=tenant.pk, contact=contact, kind="x", summary=s, occurred_at=at)
        for s in ("first", "second")
    )

    assert list(timeline_for_contact(contact=contact)) == [second, first]


def test_a_long_summary_is_shortened_not_refused(tenant):
    contact = ContactFactory(tenant=tenant)

    entry = timeline_add(tenant_id=tenant.pk, contact=contact, kind="x", summary="a" * 500)

    assert len(entry.summary) == 300
    assert entry.summary.endswith("…")


def test_an_entry_for_another_tenants_contact_is_refused(tenant, other_tenant):
    contact = ContactFactory(tenant=other_tenant)
    with pytest.raises(ValueError, match="different tenants"):
        timeline_add(tenant_id=tenant.pk, contact=contact, kind="x", summary="x")


def test_a_page_of_the_timeline_is_one_query_whatever_its_size(
    tenant, agent_user, django_assert_num_queries
):
    contact = ContactFactory(tenant=tenant)
    ticket = TicketFactory(tenant=tenant, contact=contact)
    actor = principal_for_user(agent_user)
    for n in range(6):
        timeline_add(
            tenant_id=tenant.pk,
            contact=contact,
            kind="x",
            summary=str(n),
            actor=actor,
            ticket=ticket,
        )

    with django_assert_num_queries(1):
        rows = [(e.actor.username, e.ticket.number) for e in timeline_for_contact(contact=contact)]

    assert len(rows) == 6
