"""Scanned letters filed by agents at /agent/post/new/ (service `post_receive`)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_inbox.models import Message
from crm.models import Contact, ContactIdentity, IdentityKind, Role
from tests.channels_inbox.conftest import make_channel
from tests.conftest import member
from tests.crm.factories import ContactFactory, ContactIdentityFactory

PAGE = "/agent/post/new/"

pytestmark = pytest.mark.django_db


def scan(name="brev.pdf", content=b"%PDF-1.4 scanned letter", content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type)


def letter(channel, **fields) -> dict:
    data = {
        "channel": channel.pk,
        "sender_name": "Jens Hansen",
        "sender_address": "Strandvejen 12\n8000 Aarhus C",
        "email": "",
        "phone": "",
        "subject": "Klage over måleraflæsning",
        "text": "Kunden mener, at måleren er aflæst forkert i september.",
        "received_on": "2026-11-20",
        "scan": scan(),
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def agent_client(client, agent_user):
    client.force_login(agent_user)
    return client


def test_an_agent_files_a_letter_from_a_new_sender(agent_client, agent_user, post_channel):
    response = agent_client.post(PAGE, letter(post_channel, phone="+4586123456"))
    assert response.status_code == 302
    message = Message.objects.get()
    assert response["Location"] == f"{PAGE}?filed={message.pk}"
    assert message.kind == "post"
    assert message.channel == post_channel
    assert message.author == agent_user
    assert message.subject == "Klage over måleraflæsning"
    assert message.headers["postal_address"] == "Strandvejen 12\n8000 Aarhus C"
    assert message.headers["received_on"] == "2026-11-20"
    contact = message.conversation.contact
    assert (contact.first_name, contact.last_name) == ("Jens", "Hansen")
    assert (
        ContactIdentity.objects.get(kind=IdentityKind.PHONE, value="+4586123456").contact == contact
    )
    (attachment,) = message.attachments.all()
    assert attachment.filename == "brev.pdf"
    assert attachment.file.read() == b"%PDF-1.4 scanned letter"
    # the confirmation shows on the next page
    page = agent_client.get(response["Location"])
    assert "The letter is filed on Jens Hansen." in page.content.decode()


def test_a_letter_lands_on_the_chosen_contact_who_gets_the_email(
    agent_client, tenant, post_channel
):
    # given a known contact without an email
    contact = ContactFactory(tenant=tenant, first_name="Karen", last_name="Blixen")
    # when the agent files a letter on them that names an email
    response = agent_client.post(
        PAGE,
        letter(
            post_channel, contact=contact.pk, sender_name="Karen Blixen", email="Karen@Rungsted.dk"
        ),
    )
    # then the letter is on that contact, and the email is theirs now
    assert response.status_code == 302
    assert Message.objects.get().conversation.contact == contact
    assert ContactIdentity.objects.get(kind=IdentityKind.EMAIL).contact == contact
    assert Contact.objects.filter(tenant=tenant).count() == 1


def test_a_letter_from_a_known_email_finds_its_contact(agent_client, tenant, post_channel):
    known = ContactIdentityFactory(
        contact=ContactFactory(tenant=tenant), kind=IdentityKind.EMAIL, value="jens@hansen.dk"
    ).contact
    response = agent_client.post(PAGE, letter(post_channel, email="jens@hansen.dk"))
    assert response.status_code == 302
    assert Message.objects.get().conversation.contact == known


def test_an_email_held_by_another_contact_is_refused(agent_client, tenant, post_channel):
    ContactIdentityFactory(
        contact=ContactFactory(tenant=tenant), kind=IdentityKind.EMAIL, value="jens@hansen.dk"
    )
    chosen = ContactFactory(tenant=tenant)
    response = agent_client.post(
        PAGE, letter(post_channel, contact=chosen.pk, email="jens@hansen.dk")
    )
    assert response.status_code == 400
    assert "This belongs to another contact" in response.content.decode()
    assert not Message.objects.exists()


def test_another_tenants_contact_cannot_be_chosen(agent_client, other_tenant, post_channel):
    stranger = ContactFactory(tenant=other_tenant)
    response = agent_client.post(PAGE, letter(post_channel, contact=stranger.pk))
    assert response.status_code == 400
    assert "No such contact." in response.content.decode()
    assert not Message.objects.exists()


def test_another_tenants_post_channel_cannot_be_chosen(
    agent_client, other_tenant, other_queue, post_channel
):
    foreign = make_channel(other_tenant, other_queue, "post", name="Poczta")
    response = agent_client.post(PAGE, letter(foreign))
    assert response.status_code == 400
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (
            scan("brev.exe", b"MZ", "application/octet-stream"),
            "Files of type .exe are not accepted.",
        ),
        (
            scan("brev.docx", b"PK", "application/vnd.openxmlformats"),
            "Files of type .docx are not accepted.",
        ),
    ],
)
def test_only_pdf_and_image_scans_are_taken(agent_client, post_channel, upload, reason):
    response = agent_client.post(PAGE, letter(post_channel, scan=upload))
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Message.objects.exists()


def test_a_letter_needs_its_scan_and_sender(agent_client, post_channel):
    response = agent_client.post(PAGE, letter(post_channel, scan=None, sender_name=""))
    assert response.status_code == 400
    assert response.content.decode().count("This field is required.") == 2
    assert not Message.objects.exists()


def test_the_page_preselects_a_contact_from_the_query(agent_client, post_channel):
    response = agent_client.get(PAGE + "?contact=42")
    assert response.status_code == 200
    assert 'value="42"' in response.content.decode()


def test_only_agents_of_a_tenant_with_a_post_channel_may_file(client, tenant, post_channel):
    assert client.get(PAGE).status_code == 302  # anonymous → login
    viewer = member(tenant, Role.VIEWER)
    client.force_login(viewer)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, letter(post_channel)).status_code == 403
    assert not Message.objects.exists()


def test_an_agent_without_a_post_channel_is_refused(client, other_tenant):
    client.force_login(member(other_tenant, Role.AGENT))
    assert client.get(PAGE).status_code == 403
