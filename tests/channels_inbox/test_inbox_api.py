"""The inbox REST API: conversations, messages, channels, attachment downloads."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from channels_inbox.models import Attachment, MessageDirection
from crm.models import AuditEntry, Role
from crm.services.api_keys import api_key_create
from tests.crm.factories import AgentProfileFactory, UserFactory
from tests.workspace.inbox_fixtures import add_message, channel, conversation, inbox_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def chan(tenant):
    return channel(
        tenant,
        inbox_queue(tenant),
        imap_password="imap-secret-1",
        smtp_password="smtp-secret-2",
        meta_access_token="EAAB-secret-3",
    )


@pytest.fixture
def other_chan(other_tenant):
    return channel(other_tenant, inbox_queue(other_tenant, "Obsługa"), address="o@wisla.example")


@pytest.fixture
def agent(tenant):
    return AgentProfileFactory(tenant=tenant, user=UserFactory(username="alma"))


@pytest.fixture
def api(agent):
    client = APIClient()
    client.force_authenticate(agent.user)
    return client


def _key_client(tenant, role=Role.AGENT) -> APIClient:
    _, key = api_key_create(tenant=tenant, name=f"k-{role}", role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_anonymous_gets_401(client):
    response = client.get("/api/v1/conversations/")
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_list_shows_only_own_tenant_and_filters(api, chan, other_chan, agent):
    mine = conversation(chan, assignee=agent.user, subject="Mine")
    unassigned = conversation(chan, subject="Nobody's")
    conversation(other_chan, subject="Theirs")

    rows = api.get("/api/v1/conversations/").json()["results"]
    assert {r["subject"] for r in rows} == {"Mine", "Nobody's"}

    by_assignee = api.get("/api/v1/conversations/", {"assignee": agent.user_id}).json()
    assert [r["id"] for r in by_assignee["results"]] == [mine.pk]
    by_unassigned = api.get("/api/v1/conversations/", {"unassigned": "true"}).json()
    assert [r["id"] for r in by_unassigned["results"]] == [unassigned.pk]
    by_contact = api.get("/api/v1/conversations/", {"contact": mine.contact_id}).json()
    assert [r["id"] for r in by_contact["results"]] == [mine.pk]
    by_channel = api.get("/api/v1/conversations/", {"channel_kind": "sms"}).json()
    assert by_channel["results"] == []
    row = rows[0]
    assert row["channel"]["kind"] == "email"
    assert set(row) >= {"status", "assignee", "contact", "queue", "last_message_preview"}


def test_status_filter_and_bad_filter_value(api, chan):
    conversation(chan, subject="Open one")
    conversation(chan, subject="Done", status="resolved")
    rows = api.get("/api/v1/conversations/", {"status": "resolved"}).json()["results"]
    assert [r["subject"] for r in rows] == ["Done"]
    bad = api.get("/api/v1/conversations/", {"status": "sleeping"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"


def test_another_tenants_conversation_is_404_for_every_action(api, other_chan):
    theirs = conversation(other_chan)
    base = f"/api/v1/conversations/{theirs.pk}/"
    assert api.get(base).status_code == 404
    assert api.get(base + "messages/").status_code == 404
    assert api.post(base + "messages/", {"text": "hi", "type": "note"}).status_code == 404
    assert api.post(base + "status/", {"status": "resolved"}).status_code == 404
    assert api.post(base + "assign/", {"assignee": None}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open"
    assert theirs.message_count == 1


def test_list_query_count_does_not_grow(api, chan, agent):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/v1/conversations/").status_code == 200
        return len(ctx.captured_queries)

    for _ in range(3):
        conversation(chan, assignee=agent.user)
    count()  # warm-up: the user's roles are cached on the (forced) user after one request
    few = count()
    for _ in range(12):
        conversation(chan)
    assert count() == few


def test_messages_list_with_attachments_in_fixed_queries(api, chan):
    conv = conversation(chan, messages=2)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(f"/api/v1/conversations/{conv.pk}/messages/")
        assert response.status_code == 200
        return len(ctx.captured_queries)

    count()  # warm-up: the user's roles are cached on the (forced) user after one request
    few = count()
    for _ in range(10):
        message = add_message(conv, text="more")
        Attachment.objects.create(
            tenant=conv.tenant, message=message, filename="a.pdf", content_type="application/pdf"
        )
    assert count() == few
    rows = api.get(f"/api/v1/conversations/{conv.pk}/messages/").json()["results"]
    assert rows[0]["attachments"][0]["download_url"].endswith("/download/")


def test_assign_and_status_actions(api, chan, agent):
    conv = conversation(chan)

    taken = api.post(
        f"/api/v1/conversations/{conv.pk}/assign/", {"assignee": agent.user_id}, format="json"
    )
    assert taken.status_code == 200, taken.json()
    assert taken.json()["assignee"]["id"] == agent.user_id

    resolved = api.post(f"/api/v1/conversations/{conv.pk}/status/", {"status": "resolved"})
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"] is not None


def test_assigning_someone_outside_the_tenant_is_a_400(api, chan, other_tenant):
    conv = conversation(chan)
    stranger = AgentProfileFactory(tenant=other_tenant)
    response = api.post(
        f"/api/v1/conversations/{conv.pk}/assign/", {"assignee": stranger.user_id}, format="json"
    )
    assert response.status_code == 400
    assert "assignee" in response.json()["error"]["fields"]
    conv.refresh_from_db()
    assert conv.assignee is None


def test_viewer_key_reads_but_cannot_change(tenant, chan):
    conv = conversation(chan)
    viewer = _key_client(tenant, Role.VIEWER)
    assert viewer.get(f"/api/v1/conversations/{conv.pk}/").status_code == 200
    denied = viewer.post(f"/api/v1/conversations/{conv.pk}/status/", {"status": "resolved"})
    assert denied.status_code == 403
    conv.refresh_from_db()
    assert conv.status == "open"


def test_posting_a_note_stores_it_and_never_sends_it(api, chan):
    conv = conversation(chan)
    response = api.post(
        f"/api/v1/conversations/{conv.pk}/messages/",
        {"type": "note", "text": "Customer called too; see call."},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["direction"] == MessageDirection.NOTE
    assert body["author"]["username"] == "alma"
    assert conv.messages.filter(direction="note").count() == 1


def test_posting_a_reply_queues_it(api, chan, django_capture_on_commit_callbacks):
    conv = conversation(chan)
    response = api.post(
        f"/api/v1/conversations/{conv.pk}/messages/",
        {"text": "We have corrected the invoice.", "subject": "Re: Invoice"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["direction"] == "outbound"
    assert response.json()["status"] in ("queued", "sending", "sent")


def test_empty_reply_is_a_400_and_nothing_is_stored(api, chan):
    conv = conversation(chan)
    response = api.post(f"/api/v1/conversations/{conv.pk}/messages/", {"text": "   "})
    assert response.status_code == 400
    assert "text" in response.json()["error"]["fields"]
    assert conv.messages.count() == 1


def test_a_bad_cc_address_is_a_400_naming_the_field(api, chan):
    conv = conversation(chan)
    response = api.post(
        f"/api/v1/conversations/{conv.pk}/messages/",
        {"text": "Hej", "cc": ["not an address"]},
        format="json",
    )
    assert response.status_code == 400
    assert "cc" in response.json()["error"]["fields"]
    assert conv.messages.count() == 1


def test_channels_never_show_credentials(api, chan, other_chan):
    response = api.get("/api/v1/channels/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [chan.pk]
    text = response.content.decode()
    for secret in ("imap-secret-1", "smtp-secret-2", "EAAB-secret-3", chan.token):
        assert secret not in text
    assert api.get(f"/api/v1/channels/{other_chan.pk}/").status_code == 404


def test_attachment_download_is_permission_checked_and_audited(
    api, chan, other_chan, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    conv = conversation(chan)
    message = conv.messages.first()
    attachment = Attachment(
        tenant=conv.tenant, message=message, filename="faktura.pdf", content_type="application/pdf"
    )
    attachment.file.save("faktura.pdf", ContentFile(b"%PDF-1.4 test"), save=False)
    attachment.size = 13
    attachment.save()

    response = api.get(f"/api/v1/attachments/{attachment.pk}/download/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 test"
    assert 'filename="faktura.pdf"' in response["Content-Disposition"]
    assert AuditEntry.objects.filter(
        object_type="channels_inbox.attachment", object_id=str(attachment.pk), action="view"
    ).exists()

    theirs = Attachment.objects.create(
        tenant=other_chan.tenant,
        message=conversation(other_chan).messages.first(),
        filename="x.pdf",
        content_type="application/pdf",
    )
    assert api.get(f"/api/v1/attachments/{theirs.pk}/download/").status_code == 404


def test_an_attachment_without_a_file_is_404_with_a_reason(api, chan):
    conv = conversation(chan)
    refused = Attachment.objects.create(
        tenant=conv.tenant,
        message=conv.messages.first(),
        filename="virus.exe",
        content_type="application/x-msdownload",
    )
    response = api.get(f"/api/v1/attachments/{refused.pk}/download/")
    assert response.status_code == 404
    assert "not kept" in response.json()["error"]["message"]
