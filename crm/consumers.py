"""The `/ws/` live stream: one socket per browser tab, joined to the groups its user may see."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from crm.models import Role
from crm.realtime import staff_group, tenant_group, user_group
from crm.tenancy import ROLE_RANK, principal_for_user


@database_sync_to_async
def _groups_for(user) -> list[str]:
    principal = principal_for_user(user)
    if principal.is_superuser:
        from crm.models import Tenant

        tenant_roles = dict.fromkeys(Tenant.objects.values_list("pk", flat=True), Role.MANAGER)
    else:
        tenant_roles = principal.roles
    groups = [user_group(user.pk)]
    for tenant_id, role in tenant_roles.items():
        groups.append(tenant_group(tenant_id))
        if ROLE_RANK[Role(role)] >= ROLE_RANK[Role.SUPERVISOR]:
            groups.append(staff_group(tenant_id))
    return groups


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Authenticates with the session cookie; anonymous sockets are refused (close code 4401)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = await _groups_for(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.send_json({"event": "hello", "data": {"groups": self.groups_joined}})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        # The socket is a one-way stream; a ping lets clients check liveness after a reconnect.
        if content.get("type") == "ping":
            await self.send_json({"event": "pong"})

    async def event_message(self, message) -> None:
        await self.send_json(message["message"])
