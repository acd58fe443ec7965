"""Per-tenant API keys: `Authorization: Api-Key <key>`. Only a SHA-256 hash is stored."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from crm.models import ApiKey
from crm.services.api_keys import hash_api_key

KEYWORD = "Api-Key"
# Writing last_used_at on every request would turn reads into writes; once a minute is enough.
LAST_USED_RESOLUTION_SECONDS = 60


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates `Authorization: Api-Key <key>` as `(AnonymousUser, ApiKey)`.

    A request without that header is left to the next class (the browser session). A header
    naming an unknown or revoked key fails at once with 401 rather than falling through, so a
    caller with a dead key learns why. `crm.tenancy.principal_for_request()` turns the key into
    a principal of exactly its tenant and role.
    """

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, key = header.partition(" ")
        # Authentication schemes are case-insensitive (RFC 9110 §11.1).
        if keyword.lower() != KEYWORD.lower():
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed("No API key given after 'Api-Key'.")
        # Unique column: no ORDER BY needed, one index lookup.
        found = ApiKey.objects.select_related("tenant").filter(hashed_key=hash_api_key(key))[:1]
        api_key = found[0] if found else None
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        now = timezone.now()
        last = api_key.last_used_at
        if last is None or (now - last).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now
        # DRF needs a user object; the key acts as an anonymous user carrying its own principal.
        return (AnonymousUser(), api_key)

    def authenticate_header(self, request) -> str:
        return KEYWORD


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A tenant API key, sent as `Authorization: Api-Key <key>`.",
        }
