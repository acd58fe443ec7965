"""The one mechanism that scopes data to the tenants a requester may see.

Everything that reads tenant data — selectors, the API's base viewset, admin querysets and
WebSocket consumers — asks `tenant_ids_for()` / `scope()` here, so the rule lives in one place:

* a staff superuser sees every tenant;
* a user sees the tenants of their memberships;
* an API key sees exactly its own tenant.

Rows outside the scope are simply absent, so fetching another tenant's object answers 404.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Model, QuerySet

from crm.models import ApiKey, Membership, Role, Tenant, User

ROLE_RANK = {Role.VIEWER: 0, Role.AGENT: 1, Role.SUPERVISOR: 2, Role.MANAGER: 3}


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (with a role per tenant) or an API key (one tenant, one role)."""

    user: User | None = None
    api_key: ApiKey | None = None
    roles: dict[int, str] = field(default_factory=dict)  # tenant id -> role
    is_superuser: bool = False

    @property
    def label(self) -> str:
        if self.api_key is not None:
            return f"api-key:{self.api_key.name}"
        return self.user.get_username() if self.user else "anonymous"

    def tenant_ids(self) -> set[int] | None:
        """The visible tenant ids, or None for "all tenants" (superusers)."""
        if self.is_superuser:
            return None
        return set(self.roles)

    def role_in(self, tenant_id: int) -> str | None:
        if self.is_superuser:
            return Role.MANAGER
        return self.roles.get(tenant_id)

    def has_role(self, tenant_id: int, minimum: str) -> bool:
        role = self.role_in(tenant_id)
        return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(minimum)]

    def can_see(self, tenant_id: int) -> bool:
        return self.is_superuser or tenant_id in self.roles


def principal_for_user(user: User | None) -> Principal:
    if user is None or not user.is_authenticated or not user.is_active:
        return Principal()
    # Cached on the user object: one query per request, however many times it is asked.
    cached = getattr(user, "_cc_principal", None)
    if cached is not None:
        return cached
    roles = dict(Membership.objects.filter(user=user).values_list("tenant_id", "role"))
    principal = Principal(user=user, roles=roles, is_superuser=user.is_superuser)
    user._cc_principal = principal
    return principal


def principal_for_api_key(api_key: ApiKey) -> Principal:
    return Principal(api_key=api_key, roles={api_key.tenant_id: api_key.role})


def principal_for_request(request) -> Principal:
    """The principal of a Django or DRF request (API key auth stores its principal on auth)."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        return principal_for_api_key(auth)
    return principal_for_user(getattr(request, "user", None))


def tenant_ids_for(who: User | Principal | None) -> set[int] | None:
    principal = who if isinstance(who, Principal) else principal_for_user(who)
    return principal.tenant_ids()


def scope(queryset: QuerySet, who: User | Principal | None, *, field: str = "tenant") -> QuerySet:
    """Restrict `queryset` to the tenants `who` may see. `field` names the path to the tenant
    (`"tenant"` for tenant-owned models, e.g. `"schedule__tenant"` for child rows)."""
    ids = tenant_ids_for(who)
    if ids is None:
        return queryset
    if queryset.model is Tenant and field == "tenant":
        return queryset.filter(pk__in=ids)
    return queryset.filter(**{f"{field}_id__in": ids})


def visible_tenants(who: User | Principal | None) -> QuerySet[Tenant]:
    return scope(Tenant.objects.all(), who)


def tenant_of(obj: Model) -> int | None:
    return getattr(obj, "tenant_id", None)


def require_same_tenant(tenant_id: int, objects: Iterable[Model | None]) -> None:
    """Guard for services that link rows: every linked row must belong to `tenant_id`."""
    from django.core.exceptions import ValidationError

    for obj in objects:
        if obj is not None and tenant_of(obj) not in (None, tenant_id):
            raise ValidationError(f"{obj._meta.verbose_name} belongs to another tenant.")
