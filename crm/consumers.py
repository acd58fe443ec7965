"""The `/ws/` live stream: one socket per browser tab, joined to the groups its user may see.

Protocol (JSON text frames; docs/events.md has the full description):

* on connect the server sends `{"event": "hello", "data": {"groups": [...], "last_id": N}}`;
* every domain event arrives as `{"id", "event", "tenant", "at", "data"}`;
* the client may send `{"type": "sync", "since": <last id it saw>}`; the server answers with the
  missed events it may see (oldest first, same shape as live) and then
  `{"event": "sync", "data": {"last_id": N, "complete": bool}}`. `complete: false` means the
  replay log no longer reaches back that far: reload the state from the REST API;
* `{"type": "ping"}` is answered with `{"event": "pong"}`.

Groups are chosen once, at connect: a membership granted or revoked later takes effect when the
client reconnects. Logging out closes the sockets of that session (close code 4401).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from crm.models import Role, Tenant
from crm.realtime import (
    MESSAGE_TYPE,
    Subscription,
    events_since,
    last_event_id,
    session_digest,
)
from crm.tenancy import ROLE_RANK, principal_for_user

logger = logging.getLogger(__name__)

# Sent before accepting would be a plain HTTP 403; after accept, this close code tells the
# client "sign in again" (4000-4999 are free for applications).
CLOSE_UNAUTHENTICATED = 4401


@database_sync_to_async
def subscription_for(user) -> Subscription:
    """What `user` may receive, from crm.tenancy (superusers: every tenant, as a manager)."""
    principal = principal_for_user(user)
    if principal.is_superuser:
        roles = dict.fromkeys(Tenant.objects.values_list("pk", flat=True), Role.MANAGER)
    else:
        roles = principal.roles
    staff = ROLE_RANK[Role.SUPERVISOR]
    return Subscription(
        user_id=user.pk,
        tenant_ids=frozenset(roles),
        staff_tenant_ids=frozenset(
            t for t, role in roles.items() if ROLE_RANK[Role(role)] >= staff
        ),
    )


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Authenticates with the session cookie (AuthMiddlewareStack); anonymous sockets are
    refused at the handshake. Thin: the rules live in crm.tenancy and crm.realtime."""

    subscription: Subscription | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.subscription = await subscription_for(user)
        for group in self.subscription.groups():
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        # Read after joining: any event with a higher id reaches this socket live. Redis only, no
        # ORM, so it need not queue behind the thread that serialises database access.
        last_id = await sync_to_async(last_event_id, thread_sensitive=False)()
        await self.send_json(
            {"event": "hello", "data": {"groups": self.subscription.groups(), "last_id": last_id}}
        )

    async def disconnect(self, code: int) -> None:
        if self.subscription is None:
            return
        for group in self.subscription.groups():
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs
    ):
        # A malformed frame gets an error back instead of crashing the socket.
        try:
            content = await self.decode_json(text_data) if text_data else None
        except ValueError:
            content = None
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"event": "pong"})
        elif kind == "sync":
            await self._replay(content.get("since"))
        else:
            await self.send_json({"event": "error", "data": {"detail": "unknown message type"}})

    async def _replay(self, since: Any) -> None:
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            await self.send_json(
                {"event": "error", "data": {"detail": "sync needs a non-negative integer since"}}
            )
            return
        assert self.subscription is not None  # only accepted sockets receive frames
        replay = await sync_to_async(events_since, thread_sensitive=False)(since, self.subscription)
        for message in replay.messages:
            await self.send_json(message)
        await self.send_json(
            {"event": "sync", "data": {"last_id": replay.last_id, "complete": replay.complete}}
        )

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs close_old_connections() in its one shared sync thread before every
        # handler. Fanned-out events never touch the database, and with hundreds of sockets in a
        # process that hop serialised every delivery (benchmarks/live_fanout.py: the first
        # socket's p99 fell from ~370 ms to ~47 ms without it). Other messages keep it.
        if message.get("type") == MESSAGE_TYPE:
            await self.event_message(message)
            return
        await super().dispatch(message)

    async def event_message(self, message: dict[str, Any]) -> None:
        await self.send_json(message["message"])

    async def session_ended(self, message: dict[str, Any]) -> None:
        session = self.scope.get("session")
        if session is not None and message["session"] == session_digest(session.session_key):
            await self.close(code=CLOSE_UNAUTHENTICATED)
