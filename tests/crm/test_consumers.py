"""The `/ws/` live stream, end to end through the real ASGI application and channel layer.

These tests use the channel layer from settings (Redis: the embedded one under `make test`, a
real one in CI), so a message crosses the same serialisation and groups as in production.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from contactcenter.asgi import application
from crm import realtime
from crm.events import CATALOGUE, Audience, DomainEvent, publish
from crm.models import Role
from crm.realtime import Subscription, groups_for_event
from tests.conftest import flush_live_state, member
from tests.crm.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 3


@pytest.fixture(autouse=True)
def _empty_channel_layer():
    # Groups, queued messages and the replay log of earlier tests must not leak into this one.
    flush_live_state()
    yield
    flush_live_state()


def signed_in_client(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def cookie_of(client: Client) -> bytes:
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()


def session_cookie(user) -> bytes:
    return cookie_of(signed_in_client(user))


async def open_socket(cookie: bytes | None) -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    socket = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await socket.connect(timeout=TIMEOUT)
    return socket, connected


async def open_signed_in(cookie: bytes) -> WebsocketCommunicator:
    socket, connected = await open_socket(cookie)
    assert connected
    hello = await socket.receive_json_from(timeout=TIMEOUT)
    assert hello["event"] == "hello"
    return socket


async def next_event(socket: WebsocketCommunicator) -> dict[str, Any]:
    return await socket.receive_json_from(timeout=TIMEOUT)


apublish = sync_to_async(publish)


def test_an_anonymous_socket_is_refused():
    async def scenario():
        socket, connected = await open_socket(cookie=None)
        await socket.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_a_deactivated_user_is_refused(agent_user):
    # given a session opened before the account was deactivated
    cookie = session_cookie(agent_user)
    agent_user.is_active = False
    agent_user.save(update_fields=["is_active"])

    async def scenario():
        socket, connected = await open_socket(cookie)
        await socket.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_logging_out_closes_that_sessions_socket_and_not_the_users_other_sessions(tenant):
    # given one agent signed in twice (two browsers), both with a socket open
    agent = member(tenant, Role.AGENT)
    leaving, staying = signed_in_client(agent), signed_in_client(agent)

    async def scenario():
        closing = await open_signed_in(cookie_of(leaving))
        other = await open_signed_in(cookie_of(staying))
        # when the first browser logs out
        await sync_to_async(leaving.logout)()
        # then its socket is closed with "sign in again", while the other keeps streaming
        closed = await closing.receive_output(timeout=TIMEOUT)
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 4})
        still_live = await next_event(other)
        await other.disconnect()
        return closed, still_live

    closed, still_live = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": 4401}
    assert still_live["data"] == {"number": 4}


def test_an_agent_receives_its_tenants_events_and_not_another_tenants(tenant, other_tenant):
    # given an agent of tenant A, connected
    agent = member(tenant, Role.AGENT)
    cookie = session_cookie(agent)

    async def scenario():
        socket = await open_signed_in(cookie)
        # when tenant B and then tenant A publish
        await apublish("ticket.created", tenant_id=other_tenant.pk, payload={"number": 99})
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 1})
        # then the first thing to arrive is tenant A's: tenant B's was never queued before it
        first = await next_event(socket)
        nothing_else = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return first, nothing_else

    first, nothing_else = async_to_sync(scenario)()
    assert first["event"] == "ticket.created"
    assert first["tenant"] == tenant.pk
    assert first["data"] == {"number": 1}
    assert isinstance(first["id"], int)
    assert nothing_else


def test_staff_events_reach_supervisors_and_not_agents(tenant):
    agent_cookie = session_cookie(member(tenant, Role.AGENT))
    supervisor_cookie = session_cookie(member(tenant, Role.SUPERVISOR))

    async def scenario():
        agent = await open_signed_in(agent_cookie)
        supervisor = await open_signed_in(supervisor_cookie)
        # when a staff event and then a tenant-wide one are published
        await apublish("work.queued", tenant_id=tenant.pk, payload={"work_item_id": 1})
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 2})
        seen = (
            [(await next_event(agent))["event"]],
            [(await next_event(supervisor))["event"], (await next_event(supervisor))["event"]],
        )
        await agent.disconnect()
        await supervisor.disconnect()
        return seen

    agent_saw, supervisor_saw = async_to_sync(scenario)()
    assert agent_saw == ["ticket.created"]
    assert supervisor_saw == ["work.queued", "ticket.created"]


def test_an_agent_addressed_event_reaches_only_that_agent_and_staff(tenant):
    first_agent = member(tenant, Role.AGENT)
    cookies = {
        "addressee": session_cookie(first_agent),
        "colleague": session_cookie(member(tenant, Role.AGENT)),
        "manager": session_cookie(member(tenant, Role.MANAGER)),
    }

    async def scenario():
        sockets = {who: await open_signed_in(cookie) for who, cookie in cookies.items()}
        # when an offer goes to the first agent, then a tenant-wide event follows
        await apublish(
            "work.offered",
            tenant_id=tenant.pk,
            payload={"offer": 5},
            agent_user_id=first_agent.pk,
        )
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 3})
        firsts = {who: (await next_event(socket))["event"] for who, socket in sockets.items()}
        for socket in sockets.values():
            await socket.disconnect()
        return firsts

    assert async_to_sync(scenario)() == {
        "addressee": "work.offered",
        "colleague": "ticket.created",
        "manager": "work.offered",
    }


def test_a_reconnecting_client_catches_up_with_what_it_may_see(tenant, other_tenant):
    # given an agent who saw event ids up to the hello's last_id, then went offline
    agent = member(tenant, Role.AGENT)
    colleague = member(tenant, Role.AGENT)
    cookie = session_cookie(agent)

    async def scenario():
        socket, _ = await open_socket(cookie)
        since = (await socket.receive_json_from(timeout=TIMEOUT))["data"]["last_id"]
        await socket.disconnect()
        # while offline, events of every audience are published
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 1})
        await apublish("ticket.created", tenant_id=other_tenant.pk, payload={"number": 50})
        await apublish("work.queued", tenant_id=tenant.pk, payload={"work_item_id": 9})
        await apublish(
            "work.offered", tenant_id=tenant.pk, payload={"offer": 1}, agent_user_id=colleague.pk
        )
        await apublish(
            "work.offered", tenant_id=tenant.pk, payload={"offer": 2}, agent_user_id=agent.pk
        )
        # when it reconnects and asks for what it missed
        socket = await open_signed_in(cookie)
        await socket.send_json_to({"type": "sync", "since": since})
        replies = [await next_event(socket) for _ in range(3)]
        await socket.disconnect()
        return since, replies

    since, replies = async_to_sync(scenario)()
    # then it gets exactly the events its groups would have delivered, oldest first
    missed, done = replies[:2], replies[2]
    assert [(m["event"], m["tenant"], m["data"]) for m in missed] == [
        ("ticket.created", tenant.pk, {"number": 1}),
        ("work.offered", tenant.pk, {"offer": 2}),
    ]
    assert since < missed[0]["id"] < missed[1]["id"]
    assert done == {"event": "sync", "data": {"last_id": missed[1]["id"], "complete": True}}


def test_a_client_further_behind_than_the_replay_log_is_told_to_reload(tenant, monkeypatch):
    # given a replay log that keeps two events per tenant
    monkeypatch.setattr(realtime, "REPLAY_PER_TENANT", 2)
    cookie = session_cookie(member(tenant, Role.AGENT))

    async def scenario():
        socket = await open_signed_in(cookie)
        for number in range(3):
            await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": number})
        live = [await next_event(socket) for _ in range(3)]
        # when the client asks from before the oldest kept event
        await socket.send_json_to({"type": "sync", "since": live[0]["id"] - 1})
        replayed = [await next_event(socket) for _ in range(2)]
        answer = await next_event(socket)
        await socket.disconnect()
        return live, replayed, answer

    live, replayed, answer = async_to_sync(scenario)()
    # then it gets what is left, and is told the replay is not complete
    assert replayed == live[1:]
    assert answer == {"event": "sync", "data": {"last_id": live[2]["id"], "complete": False}}


def test_a_cursor_ahead_of_the_server_means_redis_lost_its_log(tenant):
    cookie = session_cookie(member(tenant, Role.AGENT))

    async def scenario():
        socket = await open_signed_in(cookie)
        await socket.send_json_to({"type": "sync", "since": 10**9})
        answer = await next_event(socket)
        await socket.disconnect()
        return answer

    assert async_to_sync(scenario)()["data"]["complete"] is False


@pytest.mark.parametrize(
    "frame",
    ['{"type": "sync", "since": "yesterday"}', '{"type": "sync"}', '{"type": "nope"}', "not json"],
)
def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(tenant, frame):
    cookie = session_cookie(member(tenant, Role.AGENT))

    async def scenario():
        socket = await open_signed_in(cookie)
        await socket.send_to(text_data=frame)
        error = await next_event(socket)
        await socket.send_json_to({"type": "ping"})
        pong = await next_event(socket)
        await socket.disconnect()
        return error, pong

    error, pong = async_to_sync(scenario)()
    assert error["event"] == "error"
    assert pong == {"event": "pong"}


def test_a_user_of_two_tenants_joins_both_and_staff_only_where_staff(tenant, other_tenant):
    user = member(tenant, Role.AGENT)
    member(other_tenant, Role.SUPERVISOR, user=user)
    cookie = session_cookie(user)

    async def scenario():
        socket, _ = await open_socket(cookie)
        hello = await socket.receive_json_from(timeout=TIMEOUT)
        await socket.disconnect()
        return hello

    groups = async_to_sync(scenario)()["data"]["groups"]
    assert sorted(groups) == sorted(
        [
            f"user.{user.pk}",
            f"tenant.{tenant.pk}",
            f"tenant.{other_tenant.pk}",
            f"staff.{other_tenant.pk}",
        ]
    )


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize(
    ("audience", "staff"), list(itertools.product(list(Audience), [False, True]))
)
@pytest.mark.parametrize("addressed_to_user", [False, True])
def test_replay_filter_agrees_with_the_groups_a_socket_joins(audience, staff, addressed_to_user):
    # Live delivery uses groups, replay uses Subscription.receives(): they must never disagree.
    subscription = Subscription(
        user_id=7, tenant_ids=frozenset({1}), staff_tenant_ids=frozenset({1} if staff else ())
    )
    for tenant_id in (1, 2):
        agent = (7 if addressed_to_user else 8) if audience is Audience.AGENT else None
        name = next(n for n, a in CATALOGUE.items() if a is audience)
        event = DomainEvent(name=name, tenant_id=tenant_id, payload={}, agent_user_id=agent)
        live = bool(set(groups_for_event(event)) & set(subscription.groups()))
        assert subscription.receives(audience, tenant_id, agent) is live


def test_a_superuser_joins_every_tenant_as_staff(tenant, other_tenant):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    cookie = session_cookie(admin)

    async def scenario():
        socket, _ = await open_socket(cookie)
        hello = await socket.receive_json_from(timeout=TIMEOUT)
        await apublish("contact.erased", tenant_id=other_tenant.pk, payload={"id": 1})
        erased = await next_event(socket)
        await socket.disconnect()
        return hello, erased

    hello, erased = async_to_sync(scenario)()
    assert {f"staff.{tenant.pk}", f"staff.{other_tenant.pk}"} <= set(hello["data"]["groups"])
    assert (erased["event"], erased["tenant"]) == ("contact.erased", other_tenant.pk)


# --- the agent's own presence, and the per-process fan-out (crm.consumers.LocalFanOut) ---


def group_members(group: str) -> list[bytes]:
    """The channel-layer channels that joined `group`, read from Redis."""
    import redis

    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return client.zrange(f"{prefix}:group:{group}", 0, -1)
    finally:
        client.close()


def test_a_supervisor_changing_an_agents_presence_reaches_that_agents_own_socket(tenant):
    from crm.models import Presence
    from crm.services.presence import agent_set_presence
    from crm.tenancy import principal_for_user
    from tests.crm.factories import AgentProfileFactory

    agent = AgentProfileFactory(tenant=tenant)
    colleague = AgentProfileFactory(tenant=tenant)
    supervisor = member(tenant, Role.SUPERVISOR)
    cookies = [session_cookie(u) for u in (agent.user, colleague.user, supervisor)]
    set_presence = sync_to_async(agent_set_presence)

    async def scenario():
        own, other, staff = [await open_signed_in(c) for c in cookies]
        # when the supervisor puts the agent on a break, then a tenant-wide event follows
        await set_presence(
            agent=agent,
            presence=Presence.BREAK,
            reason="Coaching",
            actor=await sync_to_async(principal_for_user)(supervisor),
        )
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 5})
        seen = [await next_event(s) for s in (own, other, staff)]
        for s in (own, other, staff):
            await s.disconnect()
        return seen

    own, other, staff = async_to_sync(scenario)()
    # then the agent and the supervisor hear it; the colleague only gets the next event
    assert own["event"] == staff["event"] == "agent.status_changed"
    assert own["data"]["presence"] == "break"
    assert own["data"]["changed_by"] == supervisor.get_username()
    assert other["event"] == "ticket.created"


def test_the_sockets_of_one_process_share_one_group_membership(tenant):
    users = [member(tenant, Role.AGENT) for _ in range(3)]
    cookies = [session_cookie(u) for u in users]

    async def scenario():
        sockets = [await open_signed_in(c) for c in cookies]
        members_open = await sync_to_async(group_members)(f"tenant.{tenant.pk}")
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 6})
        received = [await next_event(s) for s in sockets]
        # when one socket closes, the others keep receiving
        await sockets[0].disconnect()
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 7})
        later = [await next_event(s) for s in sockets[1:]]
        members_one_left = await sync_to_async(group_members)(f"tenant.{tenant.pk}")
        for s in sockets[1:]:
            await s.disconnect()
        members_none_left = await sync_to_async(group_members)(f"tenant.{tenant.pk}")
        return members_open, received, later, members_one_left, members_none_left

    members_open, received, later, one_left, none_left = async_to_sync(scenario)()
    # one channel-layer member for the three sockets, every socket served, the same text each
    assert len(members_open) == 1
    assert [m["data"] for m in received] == [{"number": 6}] * 3
    assert len({m["id"] for m in received}) == 1
    assert [m["data"] for m in later] == [{"number": 7}] * 2
    # the group is left with the last socket, not before
    assert one_left == members_open
    assert none_left == []


def test_the_fan_out_rejoins_its_groups_after_redis_lost_them(tenant, monkeypatch):
    from crm import consumers

    # given a socket whose group membership Redis has forgotten (a Redis restart)
    monkeypatch.setattr(consumers, "GROUP_REFRESH_SECONDS", 0.2)
    cookie = session_cookie(member(tenant, Role.AGENT))

    async def scenario():
        socket = await open_signed_in(cookie)
        await sync_to_async(flush_live_state)()
        assert await sync_to_async(group_members)(f"tenant.{tenant.pk}") == []
        # when the refresh has run, events reach the socket again
        await asyncio.sleep(0.5)
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 8})
        event = await next_event(socket)
        await socket.disconnect()
        return event

    assert async_to_sync(scenario)()["data"] == {"number": 8}


def test_nothing_reaches_a_socket_before_its_hello(tenant):
    # given events published while sockets are being opened
    cookies = [session_cookie(member(tenant, Role.AGENT)) for _ in range(4)]

    async def scenario():
        async def publish_some():
            for number in range(20):
                await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": number})

        firsts = []

        async def open_and_read_first(cookie):
            socket, connected = await open_socket(cookie)
            assert connected
            firsts.append(await socket.receive_json_from(timeout=TIMEOUT))
            return socket

        publisher = asyncio.ensure_future(publish_some())
        sockets = await asyncio.gather(*(open_and_read_first(c) for c in cookies))
        await publisher
        for socket in sockets:
            await socket.disconnect()
        return firsts

    # then every socket's first frame is its hello
    assert [f["event"] for f in async_to_sync(scenario)()] == ["hello"] * 4


def test_a_socket_that_cannot_join_its_groups_is_closed_to_try_again(tenant, monkeypatch):
    from channels.layers import get_channel_layer

    from crm import consumers

    cookie = session_cookie(member(tenant, Role.AGENT))
    layer = get_channel_layer()

    async def unreachable(group, channel):
        raise ConnectionError("redis is down")

    async def scenario():
        monkeypatch.setattr(layer, "group_add", unreachable)
        socket, connected = await open_socket(cookie)
        closed = await socket.receive_output(timeout=TIMEOUT)
        monkeypatch.undo()
        # and once Redis answers again, a new socket is served as usual
        again = await open_signed_in(cookie)
        await apublish("ticket.created", tenant_id=tenant.pk, payload={"number": 9})
        event = await next_event(again)
        await again.disconnect()
        return connected, closed, event

    connected, closed, event = async_to_sync(scenario)()
    assert connected  # accepted first, so the browser sees a close code, not a failed handshake
    assert closed == {"type": "websocket.close", "code": consumers.CLOSE_TRY_AGAIN}
    assert event["data"] == {"number": 9}
