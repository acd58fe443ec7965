"""Per-caller request throttling: one bucket per API key, one per user."""

from __future__ import annotations

from rest_framework import throttling
from rest_framework.settings import api_settings

from crm.tenancy import principal_for_request


class PrincipalRateThrottle(throttling.SimpleRateThrottle):
    """Rate `user` from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, counted per API key (keys
    act as anonymous users, so DRF's `UserRateThrottle` would lump them together by address)
    or per user. Anonymous requests are left to `AnonRateThrottle`."""

    scope = "user"

    def get_rate(self) -> str | None:
        # Read at call time rather than import time, so deployments and tests can change it.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        principal = principal_for_request(request)
        if principal.api_key is not None:
            ident = f"key-{principal.api_key.pk}"
        elif principal.user is not None:
            ident = f"user-{principal.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonRateThrottle(throttling.AnonRateThrottle):
    """Rate `anon`, per client address, for requests that are neither a key nor a user."""

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        principal = principal_for_request(request)
        if principal.api_key is not None or principal.user is not None:
            return None
        return super().get_cache_key(request, view)
