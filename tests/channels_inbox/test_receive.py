"""`message_receive`: the one way in for every channel — dedupe, contact, conversation, ticket,
routing, timeline, events and attachments."""

from __future__ import annotations

import hashlib

import pytest

from channels_inbox.inbound import InboundAttachment
from channels_inbox.models import Attachment, Conversation, ConversationStatus, Message
from channels_inbox.services.conversations import REF_TYPE
from channels_inbox.services.receive import message_receive
from crm.models import (
    ChannelKind,
    Contact,
    ContactIdentity,
    IdentityKind,
    TicketStatus,
    TimelineEntry,
    WorkItem,
)
from tests.crm.factories import ContactFactory, ContactIdentityFactory, UserFactory

CUSTOMER = "+4520304050"


def work_items(conversation):
    return WorkItem.objects.filter(ref_type=REF_TYPE, ref_id=str(conversation.pk))


def names(published):
    return [event.name for event in published]


def test_first_sms_creates_contact_conversation_ticket_and_work_item(
    sms_channel, inbound, published, django_capture_on_commit_callbacks
):
    # given a number nobody in the tenant has
    # when its first text arrives
    with django_capture_on_commit_callbacks(execute=True):
        received = message_receive(
            inbound=inbound(sms_channel, from_address=CUSTOMER, text="Hej, min strøm er gået")
        )

    # then everything a new conversation needs exists
    assert received.created
    conversation = received.conversation
    contact = conversation.contact
    assert ContactIdentity.objects.get(contact=contact).value == CUSTOMER
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.thread_key == CUSTOMER
    assert conversation.queue == sms_channel.queue
    assert conversation.message_count == 1
    assert conversation.unread_count == 1
    assert conversation.last_message_preview == "Hej, min strøm er gået"
    assert conversation.ticket.contact == contact
    assert conversation.ticket.queue == sms_channel.queue
    assert conversation.ticket.subject.startswith("SMS from +4520304050")
    (item,) = work_items(conversation)
    assert (item.kind, item.channel_kind, item.queue) == (
        WorkItem.Kind.CONVERSATION,
        ChannelKind.CHAT,
        sms_channel.queue,
    )
    entry = TimelineEntry.objects.get(kind="message.received")
    assert (entry.contact, entry.ref_type, entry.ref_id, entry.ticket) == (
        contact,
        "channels_inbox.message",
        str(received.message.pk),
        conversation.ticket,
    )
    assert "min strøm er gået" in entry.summary
    events = {event.name: event.payload for event in published}
    assert events["conversation.created"] == {
        "conversation_id": conversation.pk,
        "channel_id": sms_channel.pk,
        "kind": "sms",
        "contact_id": contact.pk,
        "queue_id": sms_channel.queue_id,
        "ticket_id": conversation.ticket_id,
        "subject": "",
    }
    assert events["message.received"] == {
        "message_id": received.message.pk,
        "conversation_id": conversation.pk,
        "channel_id": sms_channel.pk,
        "kind": "sms",
        "contact_id": contact.pk,
        "from": CUSTOMER,
        "subject": "",
        "preview": "Hej, min strøm er gået",
        "assignee_id": None,
        "flags": [],
    }
    assert "message.flagged" not in events


def test_redelivery_changes_nothing(
    sms_channel, inbound, published, django_capture_on_commit_callbacks
):
    message = inbound(sms_channel, external_id="SM" + "a" * 32, text="Hej")
    first = message_receive(inbound=message)

    with django_capture_on_commit_callbacks(execute=True):
        again = message_receive(inbound=message)

    assert not again.created
    assert again.message == first.message
    assert Message.objects.count() == 1
    assert Conversation.objects.get().message_count == 1
    assert work_items(first.conversation).count() == 1
    assert published == []


def test_known_contact_is_found_by_phone(tenant, sms_channel, inbound):
    contact = ContactFactory(tenant=tenant, first_name="Ida")
    ContactIdentityFactory(contact=contact, kind=IdentityKind.PHONE, value=CUSTOMER)

    received = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="Hej"))

    assert received.conversation.contact == contact
    assert Contact.objects.count() == 1


def test_whatsapp_sender_known_by_phone_is_the_same_contact(tenant, whatsapp_channel, inbound):
    contact = ContactFactory(tenant=tenant)
    ContactIdentityFactory(contact=contact, kind=IdentityKind.PHONE, value=CUSTOMER)

    received = message_receive(
        inbound=inbound(
            whatsapp_channel,
            from_address=f"whatsapp:{CUSTOMER}",
            thread_id=f"whatsapp:{CUSTOMER}",
            text="Hej",
        )
    )

    assert received.conversation.contact == contact
    assert received.conversation.thread_key == f"whatsapp:{CUSTOMER}"


def test_new_whatsapp_sender_gets_a_whatsapp_identity(whatsapp_channel, inbound):
    received = message_receive(
        inbound=inbound(whatsapp_channel, from_address=f"whatsapp:{CUSTOMER}", text="Hej")
    )

    identity = ContactIdentity.objects.get(contact=received.conversation.contact)
    assert (identity.kind, identity.value) == (IdentityKind.WHATSAPP, CUSTOMER)


def test_messenger_sender_id_becomes_a_handle_and_the_thread(messenger_channel, inbound):
    psid = "6543210987654321"
    first = message_receive(
        inbound=inbound(messenger_channel, from_address=psid, thread_id=psid, text="Hi")
    )
    second = message_receive(
        inbound=inbound(messenger_channel, from_address=psid, thread_id=psid, text="Again")
    )

    identity = ContactIdentity.objects.get(contact=first.conversation.contact)
    assert (identity.kind, identity.value) == (IdentityKind.MESSENGER, psid)
    assert second.conversation == first.conversation
    assert Conversation.objects.get().message_count == 2


def test_same_number_in_another_tenant_is_another_contact(
    tenant, other_tenant, other_queue, sms_channel, inbound
):
    from tests.channels_inbox.conftest import make_channel

    other_sms = make_channel(other_tenant, other_queue, "sms", address="+48600100200")
    mine = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="a"))
    theirs = message_receive(inbound=inbound(other_sms, from_address=CUSTOMER, text="b"))

    assert mine.conversation.contact != theirs.conversation.contact
    assert theirs.conversation.contact.tenant == other_tenant
    assert theirs.conversation.tenant == other_tenant


def test_second_message_to_an_open_conversation_is_not_routed_again(sms_channel, inbound):
    first = message_receive(inbound=inbound(sms_channel, text="1"))
    second = message_receive(inbound=inbound(sms_channel, text="2"))

    assert second.conversation == first.conversation
    assert work_items(first.conversation).count() == 1
    conversation = Conversation.objects.get()
    assert (conversation.message_count, conversation.unread_count) == (2, 2)
    assert conversation.last_message_preview == "2"


def test_no_ticket_when_the_channel_does_not_open_them(sms_channel, inbound):
    sms_channel.auto_ticket = False
    sms_channel.save()

    received = message_receive(inbound=inbound(sms_channel, text="Hej"))

    assert received.conversation.ticket is None


def test_reply_to_a_pending_conversation_opens_it_and_its_ticket(
    sms_channel, inbound, published, django_capture_on_commit_callbacks
):
    first = message_receive(inbound=inbound(sms_channel, text="1"))
    Conversation.objects.filter(pk=first.conversation.pk).update(status=ConversationStatus.PENDING)
    first.conversation.ticket.status = TicketStatus.PENDING
    first.conversation.ticket.save()

    with django_capture_on_commit_callbacks(execute=True):
        message_receive(inbound=inbound(sms_channel, text="2"))

    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.OPEN
    conversation.ticket.refresh_from_db()
    assert conversation.ticket.status == TicketStatus.OPEN
    changed = next(e for e in published if e.name == "conversation.status_changed")
    assert changed.payload == {
        "conversation_id": conversation.pk,
        "status": "open",
        "previous_status": "pending",
        "by_user_id": None,
    }


def test_attachments_are_stored_with_digest_or_as_urls_to_fetch(sms_channel, inbound):
    photo = b"\x89PNG\r\n\x1a\nmeter photo"
    received = message_receive(
        inbound=inbound(
            sms_channel,
            text="Se billedet",
            attachments=[
                InboundAttachment(filename="meter.png", content_type="image/png", content=photo),
                InboundAttachment(
                    filename="MM1.jpg",
                    content_type="image/jpeg",
                    url="https://api.twilio.example/2010-04-01/Media/ME1",
                ),
            ],
        )
    )

    stored, remote = Attachment.objects.filter(message=received.message)
    assert (stored.filename, stored.size, stored.sha256) == (
        "meter.png",
        len(photo),
        hashlib.sha256(photo).hexdigest(),
    )
    with stored.file.open("rb") as handle:
        assert handle.read() == photo
    assert stored.tenant_id == received.message.tenant_id
    assert remote.source_url == "https://api.twilio.example/2010-04-01/Media/ME1"
    assert not remote.file
    assert received.message.flags == []


def test_forbidden_attachment_is_kept_out_and_shown_to_supervisors(
    sms_channel, inbound, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        received = message_receive(
            inbound=inbound(
                sms_channel,
                text="See attached",
                attachments=[
                    InboundAttachment(
                        filename="Faktura.PDF.exe", content_type="x", content=b"MZ..."
                    ),
                    InboundAttachment(filename="ok.txt", content_type="text/plain", content=b"ok"),
                ],
            )
        )

    message = received.message
    assert [a.filename for a in message.attachments.all()] == ["ok.txt"]
    assert message.flags == ["attachment_refused"]
    assert "Faktura.PDF.exe" in message.problems[0]
    assert ".exe" in message.problems[0]
    flagged = next(e for e in published if e.name == "message.flagged")
    assert flagged.payload["message_id"] == message.pk
    assert flagged.payload["problems"] == message.problems


def test_oversized_attachment_is_refused(settings, sms_channel, inbound):
    settings.INBOX_MEDIA_MAX_BYTES = 10
    received = message_receive(
        inbound=inbound(
            sms_channel,
            attachments=[InboundAttachment("big.pdf", "application/pdf", content=b"x" * 11)],
        )
    )

    assert received.message.flags == ["attachment_refused"]
    assert "11 bytes is more than the 10 allowed" in received.message.problems[0]
    assert not received.message.attachments.exists()


def test_queue_that_refuses_the_channel_kind_keeps_the_message(sms_channel, inbound):
    sms_channel.queue.channel_kinds = [ChannelKind.VOICE]
    sms_channel.queue.save()

    received = message_receive(inbound=inbound(sms_channel, text="Hej"))

    assert Message.objects.filter(pk=received.message.pk).exists()
    assert not work_items(received.conversation).exists()
    assert received.message.problems[0].startswith("Not routed:")


def test_scanned_letter_goes_on_the_given_contact(tenant, post_channel, inbound):
    contact = ContactFactory(tenant=tenant)
    clerk = UserFactory(username="clerk")

    received = message_receive(
        inbound=inbound(post_channel, from_address="", from_name="Ole Olsen", text="Brev",
                        author_id=clerk.pk),
        contact=contact,
    )  # fmt: skip

    assert received.conversation.contact == contact
    assert received.message.kind == "post"
    assert received.message.author == clerk
    assert Contact.objects.count() == 1


def test_sender_without_usable_address_still_gets_a_contact(webform_channel, inbound):
    received = message_receive(
        inbound=inbound(webform_channel, from_address="not an address", from_name="Karen Blixen")
    )

    contact = received.conversation.contact
    assert (contact.first_name, contact.last_name) == ("Karen", "Blixen")
    assert not contact.identities.exists()


def test_nul_characters_do_not_break_storage(sms_channel, inbound):
    received = message_receive(inbound=inbound(sms_channel, text="a\x00b", subject="s\x00"))

    received.message.refresh_from_db()
    assert (received.message.text, received.message.subject) == ("ab", "s")


def test_external_id_is_required(sms_channel, inbound):
    with pytest.raises(ValueError, match="external id"):
        message_receive(inbound=inbound(sms_channel, external_id=""))


def test_receiving_into_an_existing_conversation_costs_the_same_queries(
    sms_channel, inbound, django_assert_num_queries
):
    message_receive(inbound=inbound(sms_channel, text="first"))
    message_receive(inbound=inbound(sms_channel, text="second"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as third:
        message_receive(inbound=inbound(sms_channel, text="third"))
    with django_assert_num_queries(len(third.captured_queries)):
        message_receive(inbound=inbound(sms_channel, text="fourth"))
    assert len(third.captured_queries) <= 12


@pytest.mark.parametrize("sender", ["NORDEA", "1272", "+4500000001"])
def test_sender_that_is_no_valid_number_is_still_one_contact(sms_channel, inbound, sender):
    # Short codes, alphanumeric sender ids and numbers in unallocated ranges.
    first = message_receive(inbound=inbound(sms_channel, from_address=sender, text="1"))
    second = message_receive(inbound=inbound(sms_channel, from_address=sender, text="2"))

    assert second.conversation.contact == first.conversation.contact
    identity = ContactIdentity.objects.get(contact=first.conversation.contact)
    assert (identity.kind, identity.value) == (IdentityKind.OTHER, sender)


def test_new_conversation_is_offered_to_an_available_agent(
    tenant, email_channel, inbound, published, django_capture_on_commit_callbacks
):
    from crm.models import Offer, Presence
    from tests.crm.factories import AgentProfileFactory

    # given an agent free for email work
    agent = AgentProfileFactory(tenant=tenant, presence=Presence.AVAILABLE)

    # when a customer's first mail arrives
    with django_capture_on_commit_callbacks(execute=True):
        received = message_receive(
            inbound=inbound(email_channel, from_address="ida@example.dk", subject="Hjælp")
        )

    # then the conversation is offered to them at once, as email work
    (item,) = work_items(received.conversation)
    assert item.status == WorkItem.Status.OFFERED
    assert item.channel_kind == ChannelKind.EMAIL
    offer = Offer.objects.get(work_item=item)
    assert offer.agent == agent
    assert "work.offered" in names(published)
