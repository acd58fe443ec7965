"""Shared fixtures of the inbox tests: a tenant's queue and one channel of each kind.

Other inbox test files import nothing from here; pytest hands them these fixtures by name:
`tenant` (from tests/conftest.py), `queue`, `email_channel`, `sms_channel`, `whatsapp_channel`,
`messenger_channel`, `instagram_channel`, `fax_channel`, `webform_channel`, `post_channel`,
`other_email_channel` (another tenant's), and `inbound(...)` to build an InboundMessage.
"""

from __future__ import annotations

import secrets

import pytest

from channels_inbox.inbound import InboundMessage
from channels_inbox.models import Channel, InboxKind
from crm.models import ChannelKind
from tests.crm.factories import QueueFactory


@pytest.fixture
def queue(tenant):
    return QueueFactory(
        tenant=tenant,
        name="Kundeservice",
        channel_kinds=[ChannelKind.VOICE, ChannelKind.CHAT, ChannelKind.EMAIL],
    )


def make_channel(tenant, queue, kind: str, **fields) -> Channel:
    defaults = {"name": f"{kind} channel", "address": ""}
    defaults.update(fields)
    return Channel.objects.create(tenant=tenant, queue=queue, kind=kind, **defaults)


@pytest.fixture
def email_channel(tenant, queue):
    return make_channel(
        tenant,
        queue,
        InboxKind.EMAIL,
        name="Kundeservice mail",
        address="kundeservice@nordlys.example",
        fax_gateway_senders="fax@faxgateway.example\nscanner@nordlys.example",
    )


@pytest.fixture
def sms_channel(tenant, queue):
    return make_channel(tenant, queue, InboxKind.SMS, name="SMS", address="+4570100200")


@pytest.fixture
def whatsapp_channel(tenant, queue):
    return make_channel(
        tenant, queue, InboxKind.WHATSAPP, name="WhatsApp", address="whatsapp:+4570100300"
    )


@pytest.fixture
def messenger_channel(tenant, queue):
    return make_channel(
        tenant,
        queue,
        InboxKind.MESSENGER,
        name="Facebook",
        address="104857600000001",
        meta_access_token="EAAB-test-page-token",
    )


@pytest.fixture
def instagram_channel(tenant, queue):
    return make_channel(
        tenant,
        queue,
        InboxKind.INSTAGRAM,
        name="Instagram",
        address="17841400000000001",
        meta_access_token="EAAB-test-ig-token",
    )


@pytest.fixture
def fax_channel(tenant, queue):
    return make_channel(tenant, queue, InboxKind.FAX, name="Fax", address="+4570100400")


@pytest.fixture
def webform_channel(tenant, queue, email_channel):
    return make_channel(
        tenant, queue, InboxKind.WEBFORM, name="Kontaktformular", reply_channel=email_channel
    )


@pytest.fixture
def post_channel(tenant, queue):
    return make_channel(tenant, queue, InboxKind.POST, name="Post")


@pytest.fixture
def other_queue(other_tenant):
    return QueueFactory(tenant=other_tenant, name="Obsługa klienta")


@pytest.fixture
def other_email_channel(other_tenant, other_queue):
    return make_channel(
        other_tenant,
        other_queue,
        InboxKind.EMAIL,
        name="Obsługa mail",
        address="obsluga@wisla.example",
    )


@pytest.fixture
def inbound():
    """`inbound(channel, **fields)` → an InboundMessage with a fresh external id."""

    def build(channel: Channel, **fields) -> InboundMessage:
        fields.setdefault("external_id", "ext-" + secrets.token_hex(8))
        fields.setdefault("from_address", "+4520304050")
        return InboundMessage(channel=channel, **fields)

    return build


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Stored attachments go to a per-test folder, never into the checkout.
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def published(monkeypatch):
    """Every domain event published while the test runs, as (name, payload) pairs, in order;
    nothing goes to Redis. Wrap the code under test in
    `django_capture_on_commit_callbacks(execute=True)`: events go out on commit."""
    from crm.events import DomainEvent

    events: list[DomainEvent] = []
    monkeypatch.setattr("crm.events._subscribers", [events.append])
    return events
