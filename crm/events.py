"""Domain events: the one function that publishes them, and the catalogue.

Services call `publish()`. Nothing is sent until the surrounding transaction commits, so a
rolled-back write never announces itself; outside a transaction (a Celery task in autocommit) the
event goes out at once. After commit the event is handed to every subscriber: `crm.realtime` fans
it out to WebSocket groups, outbound webhooks will subscribe later. A failing subscriber is logged
and never stops the others, nor the request that committed.

docs/events.md is the catalogue for readers (each event's name, payload, audience, publisher);
a test keeps it in step with `CATALOGUE` below.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


class Audience(StrEnum):
    """Who receives an event over the WebSocket."""

    TENANT = "tenant"  # everyone working for the tenant (agents, supervisors, managers, viewers)
    STAFF = "staff"  # the tenant's supervisors and managers
    AGENT = "agent"  # one agent (by user id) plus the tenant's supervisors and managers


# The catalogue. Adding an event means one line here (comment: payload keys) and a row in
# docs/events.md.
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
    # agent_id, user_id, presence, previous, reason, changed_at, changed_by (to the agent too,
    # so their own page follows a change a supervisor or the system made)
    "agent.status_changed": Audience.AGENT,
    "work.offered": Audience.AGENT,
    "work.offer_expired": Audience.AGENT,
    "work.assigned": Audience.AGENT,
    "work.queued": Audience.STAFF,
    "work.finished": Audience.STAFF,
    # offer_id, work_item_id, agent_id, reason (offline, break, cancelled, ...)
    "work.offer_withdrawn": Audience.AGENT,
    # work_item_id, queue_id, agent_id (or null), reason
    "work.cancelled": Audience.STAFF,
    # call_id, call_sid, from, to, phone_number_id, contact_id, after_hours
    "call.received": Audience.STAFF,
    # call_id, queue_id, work_item_id, contact_id
    "call.queued": Audience.STAFF,
    # call_id, agent_id, queue_id, work_item_id, contact_id, wait_seconds
    "call.answered": Audience.AGENT,
    # call_id, callback_id, work_item_id, queue_id, contact_id, reason (pressed, max_wait)
    "call.callback_requested": Audience.STAFF,
    # call_id, status, outcome, abandoned, agent_id, queue_id, wait_seconds, ring_seconds,
    # talk_seconds, duration_seconds
    "call.ended": Audience.STAFF,
    # call_id, agent_id, queue_id, hold_started_at
    "call.held": Audience.STAFF,
    # call_id, agent_id, queue_id, hold_seconds (this hold), total_hold_seconds
    "call.resumed": Audience.STAFF,
    # call_id, from_agent_id, kind (agent, queue, number), to_agent_id, to_queue_id, to_number
    "call.transferred": Audience.STAFF,
    # call_id, agent_id, disposition (code or null), ticket_id, wrapup_seconds, timed_out
    "call.wrapped_up": Audience.STAFF,
    # id, call_id, contact_id, from
    "voicemail.received": Audience.TENANT,
    # --- inbox (channels_inbox) ---
    # conversation_id, channel_id, kind, contact_id, queue_id, ticket_id, subject
    "conversation.created": Audience.TENANT,
    # conversation_id, assignee_id (or null), previous_assignee_id, by_user_id
    "conversation.assigned": Audience.TENANT,
    # conversation_id, status, previous_status, by_user_id
    "conversation.status_changed": Audience.TENANT,
    # message_id, conversation_id, channel_id, kind, contact_id, from, subject, preview,
    # assignee_id, flags
    "message.received": Audience.TENANT,
    # message_id, conversation_id, direction (outbound, note), kind, author_id, preview
    "message.created": Audience.TENANT,
    # message_id, conversation_id, status, previous_status, error_code
    "message.status_changed": Audience.TENANT,
    # message_id, conversation_id (or null), channel_id, flags, problems (kept raw for review)
    "message.flagged": Audience.STAFF,
    # --- surveys ---
    # response_id, survey_id, version_id, mode (agent, ivr, web), contact_id, call_id,
    # conversation_id, outcome, completed
    "survey.response_saved": Audience.STAFF,
    # --- voice, supervision ---
    # call_id, supervisor_user_id, agent_id, mode (listen, whisper, barge), started
    "call.monitored": Audience.STAFF,
}


@dataclass(frozen=True)
class DomainEvent:
    """One thing that happened in one tenant. `payload` is plain JSON (see `publish`)."""

    name: str
    tenant_id: int
    payload: dict[str, Any]
    agent_user_id: int | None = None
    occurred_at: datetime = field(default_factory=timezone.now)

    @property
    def audience(self) -> Audience:
        return CATALOGUE[self.name]

    def as_message(self) -> dict[str, Any]:
        """The JSON body clients receive (`crm.realtime` adds the replay `id`)."""
        return {
            "event": self.name,
            "tenant": self.tenant_id,
            "at": self.occurred_at.isoformat(),
            "data": self.payload,
        }


Subscriber = Callable[[DomainEvent], None]
_subscribers: list[Subscriber] = []


def subscribe(subscriber: Subscriber) -> Subscriber:
    """Register a callable run for every event after commit (usable as a decorator).

    Registering the same callable twice keeps one registration, so module reloads and repeated
    `AppConfig.ready()` calls cannot double-send. Subscribers run synchronously in the process
    that committed, in registration order: keep them fast and hand slow work to Celery.
    """
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)
    return subscriber


def unsubscribe(subscriber: Subscriber) -> None:
    """Remove a subscriber registered with `subscribe` (a no-op if it is not registered)."""
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def publish(
    name: str,
    *,
    tenant_id: int,
    payload: dict[str, Any],
    agent_user_id: int | None = None,
) -> DomainEvent:
    """Announce `name` once the current transaction commits (at once outside a transaction).

    Raises ValueError at the call site, before anything is committed, for an event missing from
    `CATALOGUE`, an agent-addressed event without `agent_user_id`, or a payload that is not a
    JSON object. The payload is copied through JSON (datetimes, decimals and UUIDs become
    strings), so later changes to the caller's dict cannot alter what is sent, and every
    subscriber sees exactly what a WebSocket client will.
    """
    audience = CATALOGUE.get(name)
    if audience is None:
        raise ValueError(f"Unknown event {name!r}: add it to crm.events.CATALOGUE")
    if audience is Audience.AGENT and agent_user_id is None:
        raise ValueError(f"Event {name!r} is addressed to an agent: pass agent_user_id")
    if not isinstance(payload, dict):
        raise ValueError(f"Event {name!r}: the payload must be a dict")
    try:
        plain_payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    except TypeError as exc:
        raise ValueError(f"Event {name!r}: the payload is not JSON-serialisable ({exc})") from exc
    event = DomainEvent(
        name=name,
        tenant_id=int(tenant_id),
        payload=plain_payload,
        agent_user_id=int(agent_user_id) if agent_user_id is not None else None,
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
