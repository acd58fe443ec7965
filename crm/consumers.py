"""The `/ws/` live stream: one socket per browser tab, joined to the groups its user may see.

Protocol (JSON text frames; docs/events.md has the full description):

* on connect the server sends `{"event": "hello", "data": {"groups": [...], "last_id": N}}`;
  nothing is sent before it;
* every domain event arrives as `{"id", "event", "tenant", "at", "data"}`;
* the client may send `{"type": "sync", "since": <last id it saw>}`; the server answers with the
  missed events it may see (oldest first, same shape as live) and then
  `{"event": "sync", "data": {"last_id": N, "complete": bool}}`. `complete: false` means the
  replay log no longer reaches back that far: reload the state from the REST API;
* `{"type": "ping"}` is answered with `{"event": "pong"}`.

Groups are chosen once, at connect: a membership granted or revoked later takes effect when the
client reconnects. Logging out closes the sockets of that session (close code 4401).

How events reach the sockets. The sockets of one server process do not join the channel layer's
groups one by one: `LocalFanOut`, one per process (and event loop), joins each group once, on
behalf of every socket of the process that belongs to it, receives each event once, encodes it
to JSON once, and writes the same text to each of those sockets. Measured with
benchmarks/live_fanout.py (500 sockets in one daphne): with a channel-layer channel per socket,
each event woke 500 consumer tasks, each through channels_redis' receive machinery (a lock and
two tasks per wait), Channels' dispatch and its own `json.dumps`; that per-socket work was most
of the daphne CPU per event and of the p99 to the last socket. What is left per socket is the
frame write itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Iterable
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import BaseChannelLayer, get_channel_layer

from crm.models import Role, Tenant
from crm.realtime import (
    MESSAGE_TYPE,
    SESSION_ENDED_TYPE,
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
# The server cannot serve live events right now (the channel layer is down): reconnect later.
CLOSE_TRY_AGAIN = 1013
# channels_redis forgets a group member after a day (`group_expiry`); LocalFanOut re-joins its
# groups well before that, and so also recovers the groups of a Redis that restarted.
GROUP_REFRESH_SECONDS = 600.0
# After the channel layer fails (Redis unreachable), wait this long before receiving again.
RECEIVE_RETRY_SECONDS = 1.0


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


class LocalFanOut:
    """The channel-layer member for every live socket of this process (see the module text).

    One per event loop (`for_running_loop`). It holds one channel-layer channel, joins a group
    when its first local socket needs it and leaves it with the last, and stops receiving when
    no socket is left. Messages from crm.realtime carry the group they were sent to (`group`),
    which is how it knows whose sockets get them. Joining and leaving are serialised by a lock,
    so a socket that joins while the last other member leaves is never left outside the group.
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LocalFanOut] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.members: dict[str, set[LiveConsumer]] = {}
        self.channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._lock = asyncio.Lock()

    @classmethod
    def for_running_loop(cls) -> LocalFanOut | None:
        layer = get_channel_layer()
        if layer is None:
            return None
        loop = asyncio.get_running_loop()
        hub = cls._by_loop.get(loop)
        if hub is None or hub.layer is not layer:
            hub = cls._by_loop[loop] = cls(layer)
        return hub

    async def join(self, consumer: LiveConsumer, groups: Iterable[str]) -> None:
        async with self._lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self._tasks = [
                    asyncio.ensure_future(self._receive_forever(self.channel)),
                    asyncio.ensure_future(self._refresh_forever()),
                ]
            for group in groups:
                members = self.members.get(group)
                if not members:
                    # Recorded only once Redis has it: a failure leaves no half-joined group.
                    await self.layer.group_add(group, self.channel)
                    members = self.members[group] = set()
                members.add(consumer)

    async def leave(self, consumer: LiveConsumer, groups: Iterable[str]) -> None:
        async with self._lock:
            for group in groups:
                members = self.members.get(group)
                if members is None:
                    continue
                members.discard(consumer)
                if not members:
                    del self.members[group]
                    try:
                        await self.layer.group_discard(group, self.channel)
                    except Exception:
                        # Harmless: the layer drops a silent member after its group expiry.
                        logger.warning("could not leave group %s", group, exc_info=True)
            if not self.members and self.channel is not None:
                for task in self._tasks:
                    task.cancel()
                self._tasks, self.channel = [], None

    async def _receive_forever(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("live fan-out: the channel layer failed; retrying")
                await asyncio.sleep(RECEIVE_RETRY_SECONDS)
                await self._rejoin()
                continue
            await self.deliver(message)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            await self._rejoin()

    async def _rejoin(self) -> None:
        async with self._lock:
            if self.channel is None:
                return
            for group in list(self.members):
                try:
                    await self.layer.group_add(group, self.channel)
                except Exception:
                    logger.warning("could not re-join group %s", group, exc_info=True)
                    return

    async def deliver(self, message: dict[str, Any]) -> None:
        """Hand one channel-layer message to the local sockets of its group."""
        members = list(self.members.get(message.get("group", ""), ()))
        if not members:
            return
        kind = message.get("type")
        if kind == MESSAGE_TYPE:
            # Encoded once for every socket: the same text the consumer's send_json would make,
            # in one ASGI message that every socket's server connection only reads.
            frame = {"type": "websocket.send", "text": json.dumps(message["message"])}
            for consumer in members:
                try:
                    await consumer.send_live(frame)
                except Exception:
                    logger.exception("could not send a live event to one socket")
        elif kind == SESSION_ENDED_TYPE:
            for consumer in members:
                await consumer.session_ended(message)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Authenticates with the session cookie (AuthMiddlewareStack); anonymous sockets are
    refused at the handshake. Thin: the rules live in crm.tenancy and crm.realtime."""

    # No channel-layer channel of its own: LocalFanOut receives for every socket of the
    # process (an alias that names no configured layer makes Channels skip it).
    channel_layer_alias = "-no-layer-per-socket-"

    subscription: Subscription | None = None
    hub: LocalFanOut | None = None
    greeted = False
    closed = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.subscription = await subscription_for(user)
        self.early: list[dict[str, Any]] = []
        await self.accept()
        self.hub = LocalFanOut.for_running_loop()
        if self.hub is not None:
            try:
                await self.hub.join(self, self.subscription.groups())
            except Exception:
                # Redis unreachable: close, and let the client's backoff try again.
                logger.exception("could not join the live groups")
                await self.hub.leave(self, self.subscription.groups())
                self.closed = True
                await self.close(code=CLOSE_TRY_AGAIN)
                return
        # Read after joining: any event with a higher id reaches this socket live. Redis only, no
        # ORM, so it need not queue behind the thread that serialises database access.
        last_id = await sync_to_async(last_event_id, thread_sensitive=False)()
        await self.send_json(
            {"event": "hello", "data": {"groups": self.subscription.groups(), "last_id": last_id}}
        )
        self.greeted = True
        # Events that arrived between joining and the hello follow it, in order.
        early, self.early = self.early, []
        for frame in early:
            await self.base_send(frame)

    async def send_live(self, frame: dict[str, Any]) -> None:
        """A live event as an encoded `websocket.send` message (called by LocalFanOut)."""
        if self.closed:
            return
        if not self.greeted:
            self.early.append(frame)
            return
        # Straight to the server: what `self.send(text_data=...)` does, minus a dict per socket.
        await self.base_send(frame)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.subscription is None or self.hub is None:
            return
        await self.hub.leave(self, self.subscription.groups())

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

    async def session_ended(self, message: dict[str, Any]) -> None:
        session = self.scope.get("session")
        if self.closed or session is None:
            return
        if message["session"] == session_digest(session.session_key):
            self.closed = True
            await self.close(code=CLOSE_UNAUTHENTICATED)
