"""Agents' replies, forwards and notes: what is stored, what is scheduled, and for whom."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_inbox import tasks_mail
from channels_inbox.models import (
    Attachment,
    Message,
    MessageDirection,
    MessageStatus,
)
from channels_inbox.services import replies
from crm import events
from crm.models import Role, TimelineEntry
from crm.tenancy import principal_for_user
from tests.channels_inbox.mailservers import conversation_with_inbound
from tests.conftest import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(monkeypatch):
    """Events delivered to subscribers (after commit); this recorder is the only subscriber."""
    seen: list[events.DomainEvent] = []
    monkeypatch.setattr(events, "_subscribers", [seen.append])
    return seen


@pytest.fixture
def scheduled(monkeypatch):
    """Message ids handed to the sending task (instead of the broker)."""
    ids: list[int] = []
    monkeypatch.setattr(tasks_mail.message_send, "delay", ids.append)
    return ids


@pytest.fixture
def agent(agent_user):
    return principal_for_user(agent_user)


@pytest.fixture
def conversation(email_channel):
    return conversation_with_inbound(
        email_channel, references=["<first@mail.example.dk>"], ticket=True
    )


def test_a_reply_is_queued_with_threading_and_sent_after_commit(
    conversation, agent, agent_user, published, scheduled, django_capture_on_commit_callbacks
):
    # when an agent replies
    with django_capture_on_commit_callbacks(execute=True):
        reply = replies.message_reply(
            conversation=conversation, actor=agent, text="Hej Søren, det retter vi."
        )
        # nothing is sent before the transaction commits
        assert scheduled == []

    # then an outbound message waits in the queue, addressed and threaded for the customer
    reply.refresh_from_db()
    assert reply.direction == MessageDirection.OUTBOUND
    assert reply.status == MessageStatus.QUEUED
    assert reply.author == agent_user
    assert reply.to_addresses == ["kunde@example.dk"]
    assert reply.subject == f"Re: Min regning er for høj [#{conversation.ticket.number}]"
    assert reply.message_id.startswith("<")
    assert reply.message_id.endswith("@nordlys.example>")
    assert reply.external_id == reply.message_id
    assert reply.in_reply_to == "<CAF1234.abc@mail.example.dk>"
    assert reply.references == ["<first@mail.example.dk>", "<CAF1234.abc@mail.example.dk>"]
    assert reply.headers["Reply-To"] == f"reply+{conversation.reply_token}@nordlys.example"
    assert reply.headers["Message-ID"] == reply.message_id
    # and the task is scheduled, the inbox told, the contact's timeline updated
    assert scheduled == [reply.pk]
    assert [(e.name, e.payload["message_id"]) for e in published] == [("message.created", reply.pk)]
    assert published[0].payload["direction"] == "outbound"
    entry = TimelineEntry.objects.get(contact=conversation.contact, kind="message.replied")
    assert entry.ref_id == str(reply.pk)
    conversation.refresh_from_db()
    assert conversation.message_count == 2
    assert conversation.last_message_preview == "Hej Søren, det retter vi."


def test_a_rolled_back_reply_is_never_sent(conversation, agent, scheduled):
    from django.db import transaction

    class Abort(Exception):
        pass

    def reply_then_fail():
        with transaction.atomic():
            replies.message_reply(conversation=conversation, actor=agent, text="Hej")
            raise Abort

    with pytest.raises(Abort):
        reply_then_fail()

    assert scheduled == []
    assert not Message.objects.filter(direction=MessageDirection.OUTBOUND).exists()


def test_the_reply_goes_to_the_customers_reply_to_address(email_channel, agent, scheduled):
    conversation = conversation_with_inbound(
        email_channel, headers={"Reply-To": "Søren <soren@private.example>"}
    )

    reply = replies.message_reply(conversation=conversation, actor=agent, text="Hej")

    assert reply.to_addresses == ["soren@private.example"]


def test_an_agent_typed_subject_keeps_the_ticket_marker(conversation, agent, scheduled):
    reply = replies.message_reply(
        conversation=conversation, actor=agent, text="Hej", subject="Ny aftale"
    )

    assert reply.subject == f"Ny aftale [#{conversation.ticket.number}]"


def test_a_reply_with_attachments_and_cc(conversation, agent, scheduled, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("aftale.pdf", b"%PDF-1.4 aftale", content_type="application/pdf")

    reply = replies.message_reply(
        conversation=conversation,
        actor=agent,
        text="Se vedhæftede",
        cc=["chef@example.dk"],
        attachments=[upload],
    )

    assert reply.cc_addresses == ["chef@example.dk"]
    attachment = reply.attachments.get()
    assert (attachment.filename, attachment.size) == ("aftale.pdf", 15)
    assert attachment.file.read() == b"%PDF-1.4 aftale"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"text": "  "}, "needs some text"),
        ({"text": "Hej", "cc": ["not an address"]}, "not an email address"),
    ],
)
def test_bad_replies_are_refused_with_a_reason(conversation, agent, scheduled, fields, reason):
    with pytest.raises(ValidationError) as error:
        replies.message_reply(conversation=conversation, actor=agent, **fields)

    assert reason in str(error.value)
    assert scheduled == []
    assert not Message.objects.filter(direction=MessageDirection.OUTBOUND).exists()


def test_viewers_and_other_tenants_agents_cannot_reply(
    conversation, viewer_user, other_tenant, scheduled
):
    outsider = member(other_tenant, Role.AGENT)

    for user in (viewer_user, outsider):
        with pytest.raises(PermissionDenied):
            replies.message_reply(
                conversation=conversation, actor=principal_for_user(user), text="Hej"
            )

    assert scheduled == []


def test_an_sms_reply_goes_to_the_customers_number(sms_channel, agent, scheduled):
    conversation = conversation_with_inbound(
        sms_channel, customer="+4520304050", thread_key="+4520304050", message_id=""
    )

    reply = replies.message_reply(conversation=conversation, actor=agent, text="Tak for din sms")

    assert reply.kind == "sms"
    assert reply.to_addresses == ["+4520304050"]
    assert reply.external_id is None  # Twilio gives the MessageSid when it is sent
    assert reply.message_id == ""
    assert reply.subject == ""
    assert "Reply-To" not in reply.headers


def test_a_webform_reply_is_an_email_from_the_reply_channel(webform_channel, agent, scheduled):
    conversation = conversation_with_inbound(webform_channel, customer="kunde@example.dk")

    reply = replies.message_reply(conversation=conversation, actor=agent, text="Hej")

    assert reply.channel == webform_channel
    assert reply.kind == "email"
    assert reply.from_address == "kundeservice@nordlys.example"
    assert reply.message_id.endswith("@nordlys.example>")
    assert reply.headers["Reply-To"] == f"reply+{conversation.reply_token}@nordlys.example"


def test_a_letter_without_a_known_email_cannot_be_answered_electronically(
    post_channel, agent, scheduled
):
    conversation = conversation_with_inbound(post_channel, customer="Vestergade 1, Aarhus")

    with pytest.raises(ValidationError) as error:
        replies.message_reply(conversation=conversation, actor=agent, text="Hej")

    assert "by letter or phone" in str(error.value)


def test_a_note_is_stored_and_never_sent(
    conversation, agent, published, scheduled, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        note = replies.conversation_note_add(
            conversation=conversation, actor=agent, text="Kunden ringede også i går"
        )

    assert note.direction == MessageDirection.NOTE
    assert scheduled == []
    assert [e.payload["direction"] for e in published] == ["note"]
    # even a sending task pointed at it does nothing
    assert replies.message_send(message_id=note.pk).status == note.status
    assert TimelineEntry.objects.filter(kind="message.note", ref_id=str(note.pk)).exists()


def test_a_note_needs_text_and_an_agent(conversation, agent, viewer_user):
    with pytest.raises(ValidationError):
        replies.conversation_note_add(conversation=conversation, actor=agent, text=" ")
    with pytest.raises(PermissionDenied):
        replies.conversation_note_add(
            conversation=conversation, actor=principal_for_user(viewer_user), text="x"
        )


def test_a_forward_carries_the_text_and_attachments(
    conversation, agent, scheduled, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    original = conversation.messages.get()
    kept = Attachment(
        tenant=conversation.tenant,
        message=original,
        filename="regning.pdf",
        content_type="application/pdf",
        size=4,
    )
    kept.file.save("regning.pdf", ContentFile(b"%PDF"), save=True)

    with django_capture_on_commit_callbacks(execute=True):
        forward = replies.message_forward(
            message=original, actor=agent, to=["bogholderi@nordlys.example"], text="Kan I se?"
        )

    assert forward.to_addresses == ["bogholderi@nordlys.example"]
    assert forward.subject.startswith("Fwd: Min regning er for høj")
    assert "Kan I se?" in forward.text
    assert "---------- Forwarded message ----------" in forward.text
    assert "Hej, min regning er for høj" in forward.text
    assert forward.flags == ["forwarded"]
    copy = forward.attachments.get()
    assert copy.filename == "regning.pdf"
    assert copy.file.read() == b"%PDF"
    assert scheduled == [forward.pk]


def test_a_forward_needs_valid_addresses(conversation, agent, scheduled):
    original = conversation.messages.get()
    with pytest.raises(ValidationError) as error:
        replies.message_forward(message=original, actor=agent, to=["nobody"])
    assert "not an email address" in str(error.value)
    with pytest.raises(ValidationError):
        replies.message_forward(message=original, actor=agent, to=[])
    assert scheduled == []


def test_an_auto_reply_is_marked_and_threaded(
    conversation, scheduled, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = replies.message_auto_reply(
            conversation=conversation, text="Tak, vi har modtaget din henvendelse."
        )

    assert message is not None
    assert message.headers["Auto-Submitted"] == "auto-replied"
    assert message.author is None
    assert message.flags == ["auto_reply"]
    assert message.in_reply_to == "<CAF1234.abc@mail.example.dk>"
    assert scheduled == [message.pk]


@pytest.mark.parametrize("flag", ["auto_reply", "bounce"])
def test_no_auto_reply_to_an_auto_reply_or_a_bounce(email_channel, scheduled, flag):
    conversation = conversation_with_inbound(email_channel, flags=[flag])

    assert replies.message_auto_reply(conversation=conversation, text="Tak") is None
    assert scheduled == []


def test_no_auto_reply_to_a_mailer_daemon(email_channel, scheduled):
    conversation = conversation_with_inbound(email_channel, customer="MAILER-DAEMON@mx.example.dk")

    assert replies.message_auto_reply(conversation=conversation, text="Tak") is None


def test_a_failed_message_can_be_retried(
    conversation, agent, scheduled, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reply = replies.message_reply(conversation=conversation, actor=agent, text="Hej")
    Message.objects.filter(pk=reply.pk).update(
        status=MessageStatus.FAILED, error_message="550 no such user"
    )

    with django_capture_on_commit_callbacks(execute=True):
        again = replies.message_retry(message=reply, actor=agent)

    assert again.status == MessageStatus.QUEUED
    assert again.error_message == ""
    assert again.message_id == reply.message_id  # the same mail, not a new one
    assert scheduled == [reply.pk, reply.pk]
    assert published[-1].name == "message.status_changed"
    assert (published[-1].payload["status"], published[-1].payload["previous_status"]) == (
        "queued",
        "failed",
    )
    # a message that has not failed cannot be retried
    with pytest.raises(ValidationError):
        replies.message_retry(message=again, actor=agent)


def test_an_sms_cannot_be_forwarded_without_an_email_channel(sms_channel, agent, scheduled):
    conversation = conversation_with_inbound(
        sms_channel, customer="+4520304050", thread_key="+4520304050", message_id=""
    )

    with pytest.raises(ValidationError) as error:
        replies.message_forward(
            message=conversation.messages.get(), actor=agent, to=["chef@example.dk"]
        )

    assert "no email channel" in str(error.value)


def test_the_agents_html_is_stored_sanitised_with_a_text_part(conversation, agent, scheduled):
    reply = replies.message_reply(
        conversation=conversation,
        actor=agent,
        text="",
        html='<p>Hej <b>Søren</b></p><script>steal()</script><img src="x" onerror="boom()">',
    )

    assert "<script" not in reply.html
    assert "onerror" not in reply.html
    assert "<b>Søren</b>" in reply.html
    assert reply.text == "Hej Søren"


def test_a_forbidden_attachment_is_refused_and_nothing_stored(conversation, agent, scheduled):
    upload = SimpleUploadedFile("faktura.pdf.exe", b"MZ", content_type="application/octet-stream")

    with pytest.raises(ValidationError) as error:
        replies.message_reply(
            conversation=conversation, actor=agent, text="Se her", attachments=[upload]
        )

    assert ".exe cannot be sent" in str(error.value)
    assert not Message.objects.filter(direction=MessageDirection.OUTBOUND).exists()
    assert scheduled == []


def test_a_reply_after_a_bounce_still_goes_to_the_customer(email_channel, agent, scheduled):
    # given a customer's mail, then a bounce of our earlier answer threaded into the conversation
    conversation = conversation_with_inbound(email_channel)
    Message.objects.create(
        tenant=conversation.tenant,
        conversation=conversation,
        channel=email_channel,
        direction=MessageDirection.INBOUND,
        kind="email",
        external_id="<bounce-1@mx.example.dk>",
        message_id="<bounce-1@mx.example.dk>",
        from_address="mailer-daemon@mx.example.dk",
        subject="Undelivered Mail Returned to Sender",
        flags=["bounce"],
    )

    reply = replies.message_reply(conversation=conversation, actor=agent, text="Prøver igen")

    assert reply.to_addresses == ["kunde@example.dk"]
    assert reply.in_reply_to == "<CAF1234.abc@mail.example.dk>"
