"""Serializer fields that know about tenants."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import Membership, User
from crm.tenancy import principal_for_request, scope


@extend_schema_field(
    {
        "type": "string",
        "description": "The tenant's slug. On create it may also be given as the tenant's id; "
        "it may be left out when the caller serves exactly one tenant.",
    }
)
class TenantField(serializers.Field):
    """Reads as the tenant's slug; writes as a slug or id, resolved by the viewset (which
    knows the caller's tenants and roles), so the raw value is passed through here."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return instance.tenant

    def to_representation(self, value) -> str:
        return value.slug

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str | int) or isinstance(data, bool):
            raise serializers.ValidationError("Give the tenant's slug or id.")
        return str(data)


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A link to another row by id, accepted only when the caller may see that row.

    Another tenant's id is refused exactly like an id that does not exist. Whether the row
    belongs to the *same* tenant as the row being written is the service's check
    (`crm.tenancy.require_same_tenant`), since a user may serve several tenants.
    """

    def __init__(self, *, tenant_field: str = "tenant", **kwargs):
        self.tenant_field = tenant_field
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        return scope(queryset, principal_for_request(request), field=self.tenant_field)


class ScopedUserField(serializers.PrimaryKeyRelatedField):
    """A user by id, accepted only when they work for a tenant the caller may see."""

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", User.objects.all())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        if request is None:
            return User.objects.none()
        memberships = scope(Membership.objects.all(), principal_for_request(request))
        return User.objects.filter(pk__in=memberships.values("user_id"), is_active=True)


class TagNamesField(serializers.ListField):
    """Tags as a list of names (read from a prefetched `tags` relation)."""

    child = serializers.CharField(max_length=60)

    def to_representation(self, data) -> list[str]:
        return sorted(tag.name for tag in data.all())
