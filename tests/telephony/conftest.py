"""Shared fixtures of the telephony tests: signed Twilio requests and a configured tenant.

`twilio_post(path, params)` posts form parameters to one of our webhooks through Django's test
client, signed exactly as Twilio signs (RequestValidator over PUBLIC_BASE_URL + path).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client
from twilio.request_validator import RequestValidator

from crm.models import ChannelKind
from telephony.models import IvrAction, IvrMenu, IvrOption, PhoneNumber
from tests.crm.factories import QueueFactory

NUMBER = "+4570100100"
CALLER = "+4520304050"
ACCOUNT_SID = "AC" + "5" * 32


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def sign(url: str, params: dict[str, str], token: str | None = None) -> str:
    return RequestValidator(token or settings.TWILIO_WEBHOOK_AUTH_TOKEN).compute_signature(
        url, params
    )


def call_params(call_sid: str, **extra: str) -> dict[str, str]:
    """What Twilio sends with every request about a call to NUMBER from CALLER."""
    return {
        "CallSid": call_sid,
        "AccountSid": ACCOUNT_SID,
        "From": CALLER,
        "To": NUMBER,
        "Caller": CALLER,
        "Called": NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **extra,
    }


@pytest.fixture
def twilio_post(client: Client) -> Callable[..., object]:
    """`twilio_post(path_or_url, params, signature=None)` → the test client's response.

    `path_or_url` may be a path ("/hooks/twilio/voice/") or an absolute URL from our TwiML.
    """

    def post(path: str, params: dict[str, str], *, signature: str | None = None):
        if path.startswith(settings.PUBLIC_BASE_URL):
            path = path[len(settings.PUBLIC_BASE_URL) :]
        url = settings.PUBLIC_BASE_URL + path
        headers = {"X-Twilio-Signature": signature if signature is not None else sign(url, params)}
        return client.post(path, params, headers=headers)

    return post


@pytest.fixture
def support_queue(tenant):
    return QueueFactory(tenant=tenant, name="Support", channel_kinds=[ChannelKind.VOICE])


@pytest.fixture
def main_menu(tenant, support_queue):
    """Nordlys' main menu: 1 → support queue, 2 → voicemail, 9 → hang up, "salg" spoken → 1."""
    menu = IvrMenu.objects.create(
        tenant=tenant,
        name="Hovedmenu",
        greeting_text="Velkommen til Nordlys. Tryk 1 for kundeservice, 2 for at lægge en besked.",
        timeout_seconds=4,
        max_retries=2,
    )
    IvrOption.objects.create(
        menu=menu, digit="1", action=IvrAction.QUEUE, target_queue=support_queue
    )
    IvrOption.objects.create(menu=menu, digit="2", action=IvrAction.VOICEMAIL)
    IvrOption.objects.create(menu=menu, digit="9", action=IvrAction.HANGUP)
    return menu


@pytest.fixture
def phone_number(tenant, main_menu):
    return PhoneNumber.objects.create(
        tenant=tenant, number=NUMBER, name="Nordlys hotline", entry_menu=main_menu
    )
