"""Conversation assignment and status: the routing work item follows, roles and tenants hold."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from channels_inbox.models import Conversation, ConversationStatus
from channels_inbox.services.conversations import (
    REF_TYPE,
    conversation_assign,
    conversation_set_status,
    live_work_item,
)
from crm.events import subscribe, unsubscribe
from crm.models import AuditEntry, Presence, Role, WorkItem
from crm.services.presence import agent_set_presence
from crm.services.routing import offer_accept, work_item_enqueue
from crm.tenancy import principal_for_user
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, ContactFactory, UserFactory
from tests.workspace.inbox_fixtures import channel, conversation, inbox_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def chan(tenant):
    return channel(tenant, inbox_queue(tenant))


@pytest.fixture
def events():
    seen = []
    subscribe(seen.append)
    yield seen
    unsubscribe(seen.append)


def _enqueue(conv: Conversation) -> WorkItem:
    return work_item_enqueue(
        tenant_id=conv.tenant_id,
        queue=conv.queue,
        kind=WorkItem.Kind.CONVERSATION,
        channel_kind=conv.channel.routing_kind,
        ref_type=REF_TYPE,
        ref_id=str(conv.pk),
    )


def test_supervisor_assigns_a_waiting_conversation_and_the_work_item_moves(
    tenant, chan, django_capture_on_commit_callbacks, events
):
    # given a conversation waiting in its queue and a supervisor
    conv = conversation(chan)
    waiting = _enqueue(conv)
    alma = AgentProfileFactory(tenant=tenant, user=UserFactory(username="alma"))
    boss = member(tenant, Role.SUPERVISOR, user=UserFactory(username="boss"))

    # when the supervisor gives it to Alma
    with django_capture_on_commit_callbacks(execute=True):
        conversation_assign(conversation=conv, assignee=alma.user, actor=principal_for_user(boss))

    # then Alma holds it, in the routing engine too, and everyone is told
    conv.refresh_from_db()
    waiting.refresh_from_db()
    assert conv.assignee == alma.user
    assert waiting.status == WorkItem.Status.CANCELLED
    item = live_work_item(conv)
    assert item.status == WorkItem.Status.ASSIGNED
    assert item.agent == alma
    assert item.channel_kind == "email"
    assigned = [e for e in events if e.name == "conversation.assigned"]
    assert assigned[0].payload == {
        "conversation_id": conv.pk,
        "assignee_id": alma.user_id,
        "previous_assignee_id": None,
        "by_user_id": boss.pk,
    }
    assert AuditEntry.objects.filter(object_id=str(conv.pk), action="update").exists()


def test_reassigning_frees_the_first_agents_capacity(tenant, chan):
    conv = conversation(chan)
    first = AgentProfileFactory(tenant=tenant)
    second = AgentProfileFactory(tenant=tenant)
    conversation_assign(conversation=conv, assignee=first.user, actor=None)

    conversation_assign(conversation=conv, assignee=second.user, actor=None)

    assert not WorkItem.objects.filter(agent=first, status__in=("offered", "assigned")).exists()
    assert WorkItem.objects.get(agent=second, status="assigned").ref_id == str(conv.pk)


def test_unassigning_puts_the_conversation_back_in_its_queue(tenant, chan):
    conv = conversation(chan)
    agent = AgentProfileFactory(tenant=tenant)
    conversation_assign(conversation=conv, assignee=agent.user, actor=None)

    conversation_assign(conversation=conv, assignee=None, actor=None)

    conv.refresh_from_db()
    assert conv.assignee is None
    assert live_work_item(conv).status == WorkItem.Status.WAITING


def test_an_agent_of_another_tenant_cannot_be_assigned(tenant, other_tenant, chan):
    conv = conversation(chan)
    stranger = AgentProfileFactory(tenant=other_tenant)

    with pytest.raises(ValidationError) as caught:
        conversation_assign(conversation=conv, assignee=stranger.user, actor=None)

    assert "assignee" in caught.value.message_dict
    conv.refresh_from_db()
    assert conv.assignee is None


def test_a_viewer_cannot_be_assigned_nor_assign(tenant, chan, viewer_user, agent_user):
    conv = conversation(chan)
    with pytest.raises(ValidationError):
        conversation_assign(conversation=conv, assignee=viewer_user, actor=None)
    with pytest.raises(PermissionDenied):
        conversation_assign(
            conversation=conv, assignee=agent_user, actor=principal_for_user(viewer_user)
        )


def test_an_agent_cannot_take_a_colleagues_conversation_but_a_supervisor_can(tenant, chan):
    conv = conversation(chan)
    alma = AgentProfileFactory(tenant=tenant)
    bo = AgentProfileFactory(tenant=tenant)
    conversation_assign(conversation=conv, assignee=alma.user, actor=None)

    with pytest.raises(PermissionDenied):
        conversation_assign(conversation=conv, assignee=bo.user, actor=principal_for_user(bo.user))
    # Alma may pass her own conversation on.
    conversation_assign(conversation=conv, assignee=bo.user, actor=principal_for_user(alma.user))
    conv.refresh_from_db()
    assert conv.assignee == bo.user


def test_resolving_finishes_the_work_item_and_reopening_gives_it_back(tenant, chan):
    conv = conversation(chan)
    agent = AgentProfileFactory(tenant=tenant)
    conversation_assign(conversation=conv, assignee=agent.user, actor=None)
    item = live_work_item(conv)

    conversation_set_status(
        conversation=conv, status=ConversationStatus.RESOLVED, actor=principal_for_user(agent.user)
    )

    conv.refresh_from_db()
    item.refresh_from_db()
    assert conv.status == "resolved"
    assert conv.resolved_at is not None
    assert item.status == WorkItem.Status.DONE
    assert live_work_item(conv) is None

    conversation_set_status(conversation=conv, status="open", actor=None)

    conv.refresh_from_db()
    assert conv.status == "open"
    assert conv.resolved_at is None
    reopened = live_work_item(conv)
    assert reopened.status == WorkItem.Status.ASSIGNED
    assert reopened.agent == agent


def test_resolving_a_waiting_conversation_cancels_its_item(chan):
    conv = conversation(chan)
    item = _enqueue(conv)

    conversation_set_status(conversation=conv, status="resolved", actor=None)

    item.refresh_from_db()
    assert item.status == WorkItem.Status.CANCELLED


def test_an_unknown_status_is_refused(chan):
    conv = conversation(chan)
    with pytest.raises(ValidationError):
        conversation_set_status(conversation=conv, status="snoozed-forever", actor=None)
    conv.refresh_from_db()
    assert conv.status == "open"


def test_status_change_is_published(chan, django_capture_on_commit_callbacks, events):
    conv = conversation(chan)
    with django_capture_on_commit_callbacks(execute=True):
        conversation_set_status(conversation=conv, status="pending", actor=None)
    (event,) = [e for e in events if e.name == "conversation.status_changed"]
    assert event.payload["status"] == "pending"
    assert event.payload["previous_status"] == "open"


def test_accepting_the_routing_offer_makes_the_agent_the_assignee(
    tenant, chan, django_capture_on_commit_callbacks
):
    # given an available agent and a conversation routed to them
    agent = AgentProfileFactory(tenant=tenant)
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
    conv = conversation(chan)
    item = _enqueue(conv)
    offer = item.offers.get()

    # when the agent accepts the offer
    with django_capture_on_commit_callbacks(execute=True):
        offer_accept(offer=offer, agent=agent)

    # then the inbox's subscriber records them as the assignee
    conv.refresh_from_db()
    assert conv.assignee_id == agent.user_id


def test_merging_contacts_moves_the_conversations_too(
    tenant, chan, django_capture_on_commit_callbacks
):
    from crm.services.contacts import contact_merge

    conv = conversation(chan)
    target = ContactFactory(tenant=tenant)

    with django_capture_on_commit_callbacks(execute=True):
        contact_merge(source=conv.contact, target=target, actor=None)

    conv.refresh_from_db()
    assert conv.contact == target
