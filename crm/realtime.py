"""Fan-out of domain events to WebSocket groups through the Channels layer.

Group names are built only here, so the consumer that joins and the publisher that sends can
never disagree:

* `tenant.<tenant id>`  every signed-in member of the tenant;
* `staff.<tenant id>`   the tenant's supervisors and managers;
* `user.<user id>`      one person (an agent's offers and assignments).
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from crm.events import Audience, DomainEvent, subscribe

logger = logging.getLogger(__name__)

# The consumer method that receives fanned-out events (Channels maps "event.message").
MESSAGE_TYPE = "event.message"


def tenant_group(tenant_id: int) -> str:
    return f"tenant.{tenant_id}"


def staff_group(tenant_id: int) -> str:
    return f"staff.{tenant_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def groups_for_event(event: DomainEvent) -> list[str]:
    if event.audience is Audience.TENANT:
        return [tenant_group(event.tenant_id)]
    if event.audience is Audience.STAFF:
        return [staff_group(event.tenant_id)]
    assert event.agent_user_id is not None
    return [user_group(event.agent_user_id), staff_group(event.tenant_id)]


@subscribe
def send_to_groups(event: DomainEvent) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": MESSAGE_TYPE, "message": event.as_message()}
    for group in groups_for_event(event):
        async_to_sync(layer.group_send)(group, message)
