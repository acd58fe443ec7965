"""Threading of SMS, WhatsApp and Meta messages: by channel and customer address / sender id,
with the channel's reopen window. (Email threading is in email/test_ingest.py.)"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from channels_inbox.models import Conversation, ConversationStatus
from channels_inbox.services.conversations import REF_TYPE
from channels_inbox.services.receive import message_receive
from channels_inbox.threading import reply_address, subject_with_ticket
from crm.models import TicketStatus, WorkItem

CUSTOMER = "+4520304050"


def resolve(conversation, hours_ago: float) -> None:
    """The conversation was resolved and its last message was `hours_ago` hours ago; its
    routing is finished."""
    at = timezone.now() - timedelta(hours=hours_ago)
    Conversation.objects.filter(pk=conversation.pk).update(
        status=ConversationStatus.RESOLVED, resolved_at=at, last_message_at=at
    )
    WorkItem.objects.filter(ref_type=REF_TYPE, ref_id=str(conversation.pk)).update(
        status=WorkItem.Status.DONE
    )


def test_message_within_the_window_reopens_the_resolved_conversation(
    sms_channel, inbound, published, django_capture_on_commit_callbacks
):
    # given a conversation resolved 70 hours after its last message (window: 72 h)
    first = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="1"))
    resolve(first.conversation, hours_ago=70)
    first.conversation.ticket.status = TicketStatus.SOLVED
    first.conversation.ticket.save()

    # when the customer writes again
    with django_capture_on_commit_callbacks(execute=True):
        again = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="2"))

    # then it continues the conversation, reopened, its ticket reopened, routed again
    assert again.conversation.pk == first.conversation.pk
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.resolved_at is None
    conversation.ticket.refresh_from_db()
    assert conversation.ticket.status == TicketStatus.OPEN
    items = WorkItem.objects.filter(ref_type=REF_TYPE, ref_id=str(conversation.pk))
    assert sorted(items.values_list("status", flat=True)) == ["done", "waiting"]
    assert any(
        e.name == "conversation.status_changed" and e.payload["previous_status"] == "resolved"
        for e in published
    )


def test_message_after_the_window_starts_a_new_conversation(sms_channel, inbound):
    first = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="1"))
    resolve(first.conversation, hours_ago=73)

    again = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="2"))

    assert again.conversation.pk != first.conversation.pk
    assert again.conversation.contact == first.conversation.contact
    assert again.conversation.ticket != first.conversation.ticket
    assert Conversation.objects.get(pk=first.conversation.pk).status == "resolved"


def test_window_is_configurable_per_channel(sms_channel, inbound):
    sms_channel.reopen_window_hours = 1
    sms_channel.save()
    first = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="1"))
    resolve(first.conversation, hours_ago=2)

    again = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="2"))

    assert again.conversation.pk != first.conversation.pk


def test_open_conversation_continues_however_old(sms_channel, inbound):
    first = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="1"))
    Conversation.objects.filter(pk=first.conversation.pk).update(
        last_message_at=timezone.now() - timedelta(days=30)
    )

    again = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="2"))

    assert again.conversation.pk == first.conversation.pk


def test_reopening_with_a_closed_ticket_opens_a_new_ticket(sms_channel, inbound):
    first = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="1"))
    resolve(first.conversation, hours_ago=1)
    first.conversation.ticket.status = TicketStatus.CLOSED
    first.conversation.ticket.save()

    again = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="2"))

    conversation = Conversation.objects.get()
    assert again.conversation.pk == first.conversation.pk
    assert conversation.ticket != first.conversation.ticket
    assert conversation.ticket.status == TicketStatus.NEW


def test_different_customers_and_channels_never_share_a_conversation(
    sms_channel, whatsapp_channel, inbound
):
    a = message_receive(inbound=inbound(sms_channel, from_address=CUSTOMER, text="x"))
    b = message_receive(inbound=inbound(sms_channel, from_address="+4520304051", text="x"))
    c = message_receive(
        inbound=inbound(whatsapp_channel, from_address=f"whatsapp:{CUSTOMER}", text="x")
    )

    assert len({a.conversation.pk, b.conversation.pk, c.conversation.pk}) == 3
    # The same person on two channels is still one contact.
    assert c.conversation.contact == a.conversation.contact


def test_social_threads_follow_the_thread_id(instagram_channel, inbound):
    one = message_receive(
        inbound=inbound(instagram_channel, from_address="1784", thread_id="1784", text="a")
    )
    other = message_receive(
        inbound=inbound(instagram_channel, from_address="1785", thread_id="1785", text="b")
    )
    again = message_receive(
        inbound=inbound(instagram_channel, from_address="1784", thread_id="1784", text="c")
    )

    assert again.conversation == one.conversation
    assert other.conversation != one.conversation


def test_every_web_form_submission_is_a_new_conversation(webform_channel, inbound):
    a = message_receive(inbound=inbound(webform_channel, from_address="ida@example.dk"))
    b = message_receive(inbound=inbound(webform_channel, from_address="ida@example.dk"))

    assert a.conversation != b.conversation
    assert a.conversation.contact == b.conversation.contact


def test_outgoing_mail_helpers(email_channel, inbound):
    conversation = message_receive(
        inbound=inbound(email_channel, from_address="a@b.dk")
    ).conversation

    assert reply_address(conversation=conversation, channel_address=email_channel.address) == (
        f"reply+{conversation.reply_token}@nordlys.example"
    )
    assert subject_with_ticket("Re: Regning", 123) == "Re: Regning [#123]"
    assert subject_with_ticket("Re: Regning [#123]", 123) == "Re: Regning [#123]"
    assert subject_with_ticket("Regning", None) == "Regning"
