"""Issuing and revoking per-tenant API keys."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from crm.models import ApiKey, Role, Tenant, User

KEY_PREFIX = "cc_"


def hash_api_key(key: str) -> str:
    # Keys are 256-bit random strings, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, tenant: Tenant, name: str, role: str = Role.AGENT, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key and return it with the plain key, which is never stored or shown again."""
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        role=role,
        prefix=plain[:10],
        hashed_key=hash_api_key(plain),
        created_by=created_by,
    )
    return api_key, plain


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key
