"""crm.events: publish after commit, the catalogue, and subscribers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import transaction

from crm.events import CATALOGUE, Audience, DomainEvent, publish, subscribe, unsubscribe

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


@pytest.mark.django_db(transaction=True)
def test_an_event_published_in_a_rolled_back_transaction_is_never_sent(tenant, received):
    # given a service that publishes and then fails
    def service() -> None:
        with transaction.atomic():
            publish("ticket.created", tenant_id=tenant.pk, payload={"ticket": 1})
            raise RuntimeError("the write failed")

    with pytest.raises(RuntimeError):
        service()

    # then nothing was announced
    assert received == []


@pytest.mark.django_db(transaction=True)
def test_subscribers_run_once_and_only_after_commit(tenant, received):
    # when a service publishes inside its transaction
    with transaction.atomic():
        publish("ticket.created", tenant_id=tenant.pk, payload={"ticket": 7})
        # then nothing leaves before the commit
        assert received == []

    # and exactly one event leaves after it
    assert [(e.name, e.tenant_id, e.payload) for e in received] == [
        ("ticket.created", tenant.pk, {"ticket": 7})
    ]


@pytest.mark.django_db(transaction=True)
def test_an_inner_savepoint_rolled_back_drops_only_its_own_events(tenant, received):
    def failing_step() -> None:
        with transaction.atomic():
            publish("ticket.created", tenant_id=tenant.pk, payload={"ticket": 2})
            raise RuntimeError

    with transaction.atomic():
        publish("ticket.created", tenant_id=tenant.pk, payload={"ticket": 1})
        with pytest.raises(RuntimeError):
            failing_step()

    assert [e.payload["ticket"] for e in received] == [1]


def test_an_unknown_event_name_is_refused():
    with pytest.raises(ValueError, match=r"Unknown event 'ticket\.exploded'"):
        publish("ticket.exploded", tenant_id=1, payload={})


def test_an_agent_addressed_event_needs_the_agent():
    assert CATALOGUE["work.offered"] is Audience.AGENT
    with pytest.raises(ValueError, match="agent_user_id"):
        publish("work.offered", tenant_id=1, payload={"offer": 1})


def test_a_payload_that_is_not_json_is_refused_at_the_call_site():
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        publish("ticket.created", tenant_id=1, payload={"ticket": object()})


@pytest.mark.django_db(transaction=True)
def test_the_payload_is_sent_as_plain_json_and_cannot_change_after_publishing(tenant, received):
    # given a payload with a datetime, later changed by the caller
    payload = {"due_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "tags": ["vip"]}
    publish("ticket.updated", tenant_id=tenant.pk, payload=payload)
    payload["tags"].append("changed")

    # then subscribers saw what a WebSocket client will: JSON, as it was at publish time
    assert received[0].payload == {"due_at": "2026-01-02T03:04:05Z", "tags": ["vip"]}


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_does_not_stop_the_others(tenant, caplog):
    # given a failing subscriber registered before a working one
    received: list[DomainEvent] = []

    def broken(event: DomainEvent) -> None:
        raise RuntimeError("webhook store is down")

    subscribe(broken)
    subscribe(received.append)
    try:
        # when an event is published
        publish("note.added", tenant_id=tenant.pk, payload={"note": 3})
    finally:
        unsubscribe(broken)
        unsubscribe(received.append)

    # then the working one still received it, and the failure was logged
    assert [e.name for e in received] == ["note.added"]
    assert "webhook store is down" in caplog.text


def test_subscribing_twice_registers_once(received):
    subscribe(received.append)
    from crm import events

    assert events._subscribers.count(received.append) == 1


def test_every_catalogued_event_is_documented():
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", DOCS.read_text(), re.MULTILINE))
    assert set(CATALOGUE) - documented == set(), "add these events to docs/events.md"
    assert documented - set(CATALOGUE) == set(), "these documented events are not in CATALOGUE"
