"""A task run by a real Celery worker reaches an agent's browser socket through Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from crm.models import ChannelKind, Offer, Presence, WorkItem
from crm.tasks import expire_offers
from tests.crm.factories import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_an_expired_offer_is_announced_to_the_agents_socket_by_the_worker(
    tenant, celery_worker, channel_layer, ws_for
):
    # given an agent whose offer for a call ran out a second ago
    agent = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)
    item = WorkItem.objects.create(
        tenant=tenant,
        queue=QueueFactory(tenant=tenant),
        kind=WorkItem.Kind.CALL,
        channel_kind=ChannelKind.VOICE,
        status=WorkItem.Status.OFFERED,
        agent=agent,
    )
    offer = Offer.objects.create(
        tenant=tenant,
        work_item=item,
        agent=agent,
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    async def scenario():
        socket = await ws_for(agent.user)
        # when beat's task is queued and a real worker picks it up
        await sync_to_async(expire_offers.delay)()
        # then the agent's browser hears about it, within seconds
        message = await socket.receive_json_from(timeout=20)
        await socket.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert message["event"] == "work.offer_expired"
    assert message["tenant"] == tenant.pk
    assert message["data"]["offer_id"] == offer.pk
    assert message["data"]["work_item_id"] == item.pk
    offer.refresh_from_db()
    assert offer.status == Offer.Status.EXPIRED
