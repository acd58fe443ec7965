"""Domain events: the one function that publishes them, and the catalogue.

Services call `publish()`. Nothing is sent until the surrounding transaction commits, so a
rolled-back write never announces itself. After commit the event is fanned out to Channels
groups (see `crm.realtime`) and handed to any registered subscribers (outbound webhooks later).
See docs/events.md for the catalogue: each event's name, payload and audience.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


class Audience(StrEnum):
    """Who receives an event over the WebSocket."""

    TENANT = "tenant"  # everyone working for the tenant (agents, supervisors, managers, viewers)
    STAFF = "staff"  # the tenant's supervisors and managers
    AGENT = "agent"  # one agent (by user id) plus the tenant's supervisors


# The catalogue. Adding an event means adding it here and to docs/events.md.
CATALOGUE: dict[str, Audience] = {
    "contact.created": Audience.TENANT,
    "contact.updated": Audience.TENANT,
    "contact.merged": Audience.TENANT,
    "contact.erased": Audience.STAFF,
    "ticket.created": Audience.TENANT,
    "ticket.updated": Audience.TENANT,
    "ticket.status_changed": Audience.TENANT,
    "ticket.assigned": Audience.TENANT,
    "note.added": Audience.TENANT,
    "agent.status_changed": Audience.STAFF,
    "work.offered": Audience.AGENT,
    "work.offer_expired": Audience.AGENT,
    "work.assigned": Audience.AGENT,
    "work.queued": Audience.STAFF,
    "work.finished": Audience.STAFF,
}


@dataclass(frozen=True)
class DomainEvent:
    name: str
    tenant_id: int
    payload: dict[str, Any]
    agent_user_id: int | None = None
    occurred_at: datetime = field(default_factory=timezone.now)

    @property
    def audience(self) -> Audience:
        return CATALOGUE[self.name]

    def as_message(self) -> dict[str, Any]:
        return {
            "event": self.name,
            "tenant": self.tenant_id,
            "at": self.occurred_at.isoformat(),
            "data": self.payload,
        }


Subscriber = Callable[[DomainEvent], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register a callable run for every event after commit (usable as a decorator)."""
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def publish(
    name: str,
    *,
    tenant_id: int,
    payload: dict[str, Any],
    agent_user_id: int | None = None,
) -> DomainEvent:
    """Announce `name` once the current transaction commits (at once outside a transaction)."""
    if name not in CATALOGUE:
        raise ValueError(f"Unknown event {name!r}: add it to crm.events.CATALOGUE")
    if CATALOGUE[name] is Audience.AGENT and agent_user_id is None:
        raise ValueError(f"Event {name!r} is addressed to an agent: pass agent_user_id")
    event = DomainEvent(
        name=name, tenant_id=tenant_id, payload=payload, agent_user_id=agent_user_id
    )
    transaction.on_commit(lambda: _dispatch(event), robust=True)
    return event


def _dispatch(event: DomainEvent) -> None:
    for subscriber in list(_subscribers):
        try:
            subscriber(event)
        except Exception:
            # One failing subscriber must not stop the others or the request that committed.
            logger.exception("event subscriber %r failed for %s", subscriber, event.name)
