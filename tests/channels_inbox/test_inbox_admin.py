"""The inbox admin screens: tenant isolation for every screen, secrets never shown back,
hook URLs to copy, read-only messages and the supervisors' flagged list."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels_inbox.models import Attachment, CannedResponse, Channel, Conversation, Message
from crm import models as m
from tests.conftest import member
from tests.crm.factories import UserFactory
from tests.workspace.inbox_fixtures import add_message, channel, conversation, inbox_queue

pytestmark = pytest.mark.django_db


def _channel(tenant: m.Tenant) -> Channel:
    return channel(tenant, inbox_queue(tenant, f"Q {tenant.slug}"), address=f"{tenant.slug}@x.dk")


def _conversation(tenant: m.Tenant) -> Conversation:
    return conversation(_channel(tenant))


BUILDERS: dict[type, Callable[[m.Tenant], object]] = {
    Channel: _channel,
    Conversation: _conversation,
    Message: lambda tenant: _conversation(tenant).messages.first(),
    Attachment: lambda tenant: Attachment.objects.create(
        tenant=tenant,
        message=_conversation(tenant).messages.first(),
        filename="a.pdf",
        content_type="application/pdf",
    ),
    CannedResponse: lambda tenant: CannedResponse.objects.create(
        tenant=tenant, title=f"Hello {tenant.slug}", shortcut="hello", body="Hej"
    ),
}
INBOX_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "channels_inbox"),
    key=lambda model: model._meta.model_name,
)


def _urls(obj) -> tuple[str, str]:
    meta = obj._meta
    return (
        reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
        reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]),
    )


@pytest.fixture
def staff_manager(tenant):
    return member(tenant, m.Role.MANAGER, user=UserFactory(username="boss", is_staff=True))


def test_every_inbox_screen_is_in_the_matrix():
    assert set(INBOX_MODELS) == set(BUILDERS)


@pytest.mark.parametrize("model", INBOX_MODELS, ids=lambda model: model._meta.model_name)
def test_a_manager_sees_only_their_tenants_rows(client, model, tenant, other_tenant, staff_manager):
    mine = BUILDERS[model](tenant)
    theirs = BUILDERS[model](other_tenant)
    client.force_login(staff_manager)

    changelist, mine_url = _urls(mine)
    body = client.get(changelist).content.decode()

    assert mine_url in body
    assert _urls(theirs)[1] not in body
    assert client.get(mine_url).status_code == 200
    assert client.get(_urls(theirs)[1]).status_code == 404


def test_channel_secrets_are_never_listed_nor_shown_back(client, tenant, staff_manager):
    chan = _channel(tenant)
    Channel.objects.filter(pk=chan.pk).update(
        imap_password="imap-secret-1", smtp_password="smtp-secret-2"
    )
    client.force_login(staff_manager)
    changelist, change = _urls(chan)

    listing = client.get(changelist).content.decode()
    page = client.get(change).content.decode()

    for secret in ("imap-secret-1", "smtp-secret-2"):
        assert secret not in listing
        assert secret not in page
    # the hook URL is there to copy, with the channel's token
    assert f"/hooks/email/{chan.token}/" in page


def test_saving_a_channel_without_retyping_secrets_keeps_them_and_audits_no_secret(
    client, tenant, staff_manager
):
    chan = _channel(tenant)
    Channel.objects.filter(pk=chan.pk).update(smtp_password="keep-me")
    client.force_login(staff_manager)
    form = {
        "tenant": tenant.pk,
        "kind": "email",
        "name": "Renamed",
        "address": chan.address,
        "queue": chan.queue_id,
        "is_active": "on",
        "imap_port": 993,
        "imap_folder": "INBOX",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "smtp_password": "",
        "auto_ticket": "on",
        "reopen_window_hours": 72,
        "max_message_bytes": 1000,
    }

    response = client.post(_urls(chan)[1], form)
    assert response.status_code == 302, response.content.decode()[:3000]
    chan.refresh_from_db()
    assert chan.name == "Renamed"
    assert chan.smtp_password == "keep-me"

    response = client.post(_urls(chan)[1], {**form, "smtp_password": "new-secret-9"})
    assert response.status_code == 302
    chan.refresh_from_db()
    assert chan.smtp_password == "new-secret-9"
    entries = m.AuditEntry.objects.filter(object_type="channels_inbox.channel")
    assert entries.exists()
    assert all("new-secret-9" not in str(e.changes) for e in entries)


def test_sms_channel_shows_the_twilio_urls_and_no_mail_settings(client, tenant, staff_manager):
    chan = channel(tenant, inbox_queue(tenant, "SMS"), kind="sms", address="+4570100200")
    client.force_login(staff_manager)
    page = client.get(_urls(chan)[1]).content.decode()
    assert "/hooks/twilio/messaging/" in page
    assert 'name="imap_host"' not in page


def test_messages_are_read_only(client, tenant, staff_manager):
    message = BUILDERS[Message](tenant)
    client.force_login(staff_manager)
    assert client.post(_urls(message)[1], {}).status_code == 403


def test_flagged_messages_list_for_supervisors(client, tenant):
    supervisor = member(tenant, m.Role.SUPERVISOR, user=UserFactory(username="sup", is_staff=True))
    conv = _conversation(tenant)
    flagged = add_message(
        conv, text="?", flags=["unparsed"], problems=["The MIME structure is broken."]
    )
    client.force_login(supervisor)
    url = reverse("admin:channels_inbox_message_changelist") + "?flagged=yes"

    body = client.get(url).content.decode()

    assert reverse("admin:channels_inbox_message_change", args=[flagged.pk]) in body
    assert "The MIME structure is broken." in body
    plain = conv.messages.exclude(pk=flagged.pk).first()
    assert reverse("admin:channels_inbox_message_change", args=[plain.pk]) not in body


def test_message_changelist_queries_do_not_grow(client, tenant, staff_manager):
    conv = _conversation(tenant)
    client.force_login(staff_manager)
    url = reverse("admin:channels_inbox_message_changelist")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    count()
    few = count()
    for _ in range(8):
        add_message(conv)
    assert count() == few
