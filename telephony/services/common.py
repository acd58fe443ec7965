"""Small pieces every telephony service shares: errors, absolute hook URLs, idempotency keys."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from crm.models import Tenant
from telephony.models import Call, CallEvent, IvrMenu
from telephony.services.prompts import Speech

logger = logging.getLogger("telephony")


class WebhookError(Exception):
    """A webhook request we cannot act on; `status` is the HTTP answer (400, 404)."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def hook_url(name: str, *args: object) -> str:
    """The absolute public URL of one of our webhooks (what Twilio is told to request)."""
    return settings.PUBLIC_BASE_URL + reverse(f"telephony:{name}", args=args)


def agent_identity(user_id: int) -> str:
    """The softphone identity of an agent (letters, digits and underscore only)."""
    return f"agent_{user_id}"


def speech_for(tenant: Tenant, menu: IvrMenu | None = None) -> Speech:
    if menu is not None and menu.language:
        return Speech.for_language(menu.language, menu.voice)
    return Speech.for_language(tenant.language, menu.voice if menu is not None else "")


def call_for_sid(call_sid: str, *, call_id: int | None = None) -> Call:
    """The call a flow webhook is about. Our URLs carry the call's id and Twilio the CallSid;
    both must agree, so a guessed URL cannot act on another call."""
    queryset = Call.objects.select_related("tenant", "menu")
    call = queryset.filter(sid=call_sid).first()
    if call is None or (call_id is not None and call.pk != call_id):
        raise WebhookError(f"unknown call {call_sid}", status=404)
    return call


def event_record(
    *, key: str, kind: str, call: Call | None, call_sid: str, payload: dict[str, Any]
) -> bool:
    """Store one delivery under its natural key; False when it was seen before (a duplicate).

    Runs in a savepoint so a duplicate leaves the caller's transaction usable.
    """
    try:
        with transaction.atomic():
            CallEvent.objects.create(
                tenant_id=call.tenant_id if call is not None else None,
                call=call,
                call_sid=call_sid,
                kind=kind,
                key=key[:200],
                payload=payload,
            )
    except IntegrityError:
        return False
    return True
