"""Calls arriving at the same moment (PostgreSQL row locks, one connection per request)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from crm.models import Offer, Presence, WorkItem
from telephony.models import Call
from tests.crm.factories import AgentProfileFactory
from tests.telephony.conftest import call_params, new_call_sid, sign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CALLERS = 6


def _post(client: Client, path: str, params: dict[str, str]) -> str:
    from django.conf import settings

    if path.startswith(settings.PUBLIC_BASE_URL):
        path = path[len(settings.PUBLIC_BASE_URL) :]
    signature = sign(settings.PUBLIC_BASE_URL + path, params)
    response = client.post(path, params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_calls_arriving_at_once_never_ring_one_agent_twice(phone_number, tenant):
    # given one available agent (voice capacity 1) and six callers about to choose the queue
    agent = AgentProfileFactory(
        tenant=tenant, presence=Presence.AVAILABLE, last_idle_at=timezone.now() - timedelta(1)
    )
    barrier = threading.Barrier(CALLERS)
    errors: list[BaseException] = []

    def caller() -> None:
        try:
            client, call_sid = Client(), new_call_sid()
            greeting = _post(client, "/hooks/twilio/voice/", call_params(call_sid))
            action = re.search(r'<Gather action="([^"]+)"', greeting).group(1)
            barrier.wait(timeout=10)
            _post(client, action, call_params(call_sid, Digits="1"))
        except BaseException as exc:  # reported below, from the main thread
            errors.append(exc)
        finally:
            connection.close()

    # when they all press 1 at the same moment
    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then every caller is queued, and exactly one call is offered to the agent
    assert errors == []
    assert Call.objects.exclude(work_item=None).count() == CALLERS
    assert Offer.objects.filter(agent=agent, status=Offer.Status.PENDING).count() == 1
    assert WorkItem.objects.filter(status=WorkItem.Status.OFFERED).count() == 1
    assert WorkItem.objects.filter(status=WorkItem.Status.WAITING).count() == CALLERS - 1
