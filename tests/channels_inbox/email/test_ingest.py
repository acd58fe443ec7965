"""Real `.eml` fixtures replayed through `email_ingest`: threading, dedupe, automatic mail,
charsets, attachments, fax-to-email, unparseable and oversized messages."""

from __future__ import annotations

import pytest

from channels_inbox.email.ingest import MessageTooLarge, email_ingest
from channels_inbox.models import (
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
    MessageStatus,
)
from channels_inbox.services.conversations import REF_TYPE
from crm.models import ChannelKind, Contact, IdentityKind, WorkItem
from tests.channels_inbox.conftest import make_channel
from tests.channels_inbox.email.support import eml


def first_mail(sender: str, subject: str, body: str = "Hej", message_id: str = "") -> bytes:
    """A plain new mail, as a customer's mail program would send it."""
    message_id = message_id or f"<{abs(hash((sender, subject, body)))}@customer.example>"
    return (
        f"From: {sender}\nTo: kundeservice@nordlys.example\nSubject: {subject}\n"
        f"Date: Fri, 1 May 2026 10:00:00 +0200\nMessage-ID: {message_id}\n"
        f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    ).encode()


def our_reply(conversation: Conversation, message_id: str) -> Message:
    """An agent's answer already sent on the conversation (what the replies store)."""
    return Message.objects.create(
        tenant_id=conversation.tenant_id,
        conversation=conversation,
        channel=conversation.channel,
        direction=MessageDirection.OUTBOUND,
        kind="email",
        status=MessageStatus.SENT,
        subject=f"Re: {conversation.subject}",
        message_id=message_id,
    )


def work_items(conversation):
    return WorkItem.objects.filter(ref_type=REF_TYPE, ref_id=str(conversation.pk))


# --- threading -------------------------------------------------------------------------------


def test_outlook_reply_threads_by_in_reply_to(email_channel):
    # given Søren's conversation and our answer to it
    start = email_ingest(
        channel=email_channel,
        raw=first_mail("Søren Æblerød <soren.aeblerod@firma.example>", "Din regning for april"),
    )
    our_reply(start.conversation, "<out-1.abc123@nordlys.example>")

    # when his Outlook answers ours
    received = email_ingest(channel=email_channel, raw=eml("outlook_reply"))

    # then it lands in the same conversation, from the same contact
    assert received.created
    assert received.conversation == start.conversation
    assert received.conversation.contact == start.conversation.contact
    message = received.message
    assert message.subject == "SV: Din regning for april [#1001]"
    assert "Kan I sende en kreditnota?" in message.text
    assert message.in_reply_to == "<out-1.abc123@nordlys.example>"
    assert bytes(message.raw) == eml("outlook_reply")
    assert Conversation.objects.get().message_count == 2


def test_reply_with_a_changed_subject_stays_in_the_thread(email_channel):
    start = email_ingest(
        channel=email_channel, raw=first_mail("mads.holm@icloud.example", "Måleraflæsning")
    )
    our_reply(start.conversation, "<out-7.def456@nordlys.example>")

    received = email_ingest(channel=email_channel, raw=eml("apple_mail_reply"))

    assert received.conversation == start.conversation
    assert received.message.subject == "Flytning \u2013 ny adresse fra 1. juni"


def test_references_thread_when_in_reply_to_is_missing(email_channel):
    start = email_ingest(channel=email_channel, raw=first_mail("a@customer.example", "Hej"))
    our_reply(start.conversation, "<out-7.def456@nordlys.example>")
    raw = eml("apple_mail_reply").replace(b"In-Reply-To: <out-7.def456@nordlys.example>\n", b"")

    received = email_ingest(channel=email_channel, raw=raw)

    assert received.conversation == start.conversation


def test_unrelated_messages_sharing_a_subject_are_never_merged(email_channel):
    a = email_ingest(channel=email_channel, raw=first_mail("a@one.example", "Faktura", "A"))
    b = email_ingest(channel=email_channel, raw=first_mail("b@two.example", "Faktura", "B"))
    a2 = email_ingest(channel=email_channel, raw=first_mail("a@one.example", "Faktura", "A2"))

    assert len({a.conversation.pk, b.conversation.pk, a2.conversation.pk}) == 3


def test_reply_address_token_threads_without_headers(email_channel):
    start = email_ingest(channel=email_channel, raw=first_mail("ida.kragh@gmail.example", "X"))

    received = email_ingest(
        channel=email_channel, raw=eml("reply_token", token=start.conversation.reply_token)
    )

    assert received.conversation == start.conversation


def test_unknown_reply_token_starts_a_new_conversation(email_channel):
    start = email_ingest(channel=email_channel, raw=first_mail("ida.kragh@gmail.example", "X"))

    received = email_ingest(channel=email_channel, raw=eml("reply_token", token="Nope1234567"))

    assert received.conversation != start.conversation


def test_reply_token_of_another_tenant_is_ignored(email_channel, other_email_channel):
    theirs = email_ingest(
        channel=other_email_channel, raw=first_mail("ida.kragh@gmail.example", "X")
    )

    received = email_ingest(
        channel=email_channel, raw=eml("reply_token", token=theirs.conversation.reply_token)
    )

    assert received.conversation != theirs.conversation
    assert received.conversation.tenant_id == email_channel.tenant_id


def test_ticket_number_in_the_subject_threads_the_ticket_contacts_mail(email_channel):
    start = email_ingest(channel=email_channel, raw=first_mail("anna@firma.example", "Regning"))
    number = start.conversation.ticket.number

    received = email_ingest(
        channel=email_channel,
        raw=first_mail("anna@firma.example", f"Nyt spørgsmål [#{number}]", "Mere"),
    )

    assert received.conversation == start.conversation


def test_ticket_number_from_a_stranger_does_not_join_the_thread(email_channel):
    start = email_ingest(channel=email_channel, raw=first_mail("anna@firma.example", "Regning"))
    number = start.conversation.ticket.number

    received = email_ingest(
        channel=email_channel, raw=first_mail("eve@elsewhere.example", f"Re: Regning [#{number}]")
    )

    assert received.conversation != start.conversation
    assert received.conversation.ticket != start.conversation.ticket


def test_message_id_of_another_tenant_is_ignored(email_channel, other_email_channel):
    theirs = email_ingest(channel=other_email_channel, raw=first_mail("x@y.example", "Hej"))
    our_reply(theirs.conversation, "<out-1.abc123@nordlys.example>")

    received = email_ingest(channel=email_channel, raw=eml("outlook_reply"))

    assert received.conversation != theirs.conversation


# --- dedupe ----------------------------------------------------------------------------------


def test_same_mail_twice_is_one_message(email_channel):
    first = email_ingest(channel=email_channel, raw=eml("gmail_new"))
    # The same mail fetched by IMAP after the webhook: an extra relay header, same content.
    relayed = b"Received: from mx2.nordlys.example by imap; Tue, 5 May 2026\n" + eml("gmail_new")
    again = email_ingest(channel=email_channel, raw=relayed)

    assert first.created
    assert not again.created
    assert again.message == first.message
    assert Message.objects.count() == 1


def test_mail_without_message_id_is_deduped_by_digest(email_channel):
    first = email_ingest(channel=email_channel, raw=eml("no_message_id"))
    again = email_ingest(channel=email_channel, raw=eml("no_message_id"))
    other = email_ingest(
        channel=email_channel, raw=eml("no_message_id").replace(b"umowy", b"faktury")
    )

    assert first.message.external_id.startswith("digest:")
    assert first.message.message_id == ""
    assert not again.created
    assert again.message == first.message
    assert other.created
    assert other.message != first.message
    assert first.message.text == "Dzień dobry, proszę o kopię umowy."


def test_reused_message_id_with_other_content_is_not_dropped(email_channel):
    one = email_ingest(channel=email_channel, raw=first_mail("a@b.example", "1", "A", "<same@x>"))
    two = email_ingest(channel=email_channel, raw=first_mail("a@b.example", "2", "B", "<same@x>"))
    two_again = email_ingest(
        channel=email_channel, raw=first_mail("a@b.example", "2", "B", "<same@x>")
    )

    assert one.created
    assert two.created
    assert not two_again.created
    assert one.message.external_id == "<same@x>"
    assert two.message.external_id.startswith("<same@x>#")


def test_same_mail_on_two_channels_is_stored_on_each(email_channel, tenant, queue):
    sales = make_channel(tenant, queue, "email", address="salg@nordlys.example")

    a = email_ingest(channel=email_channel, raw=eml("gmail_new"))
    b = email_ingest(channel=sales, raw=eml("gmail_new"))

    assert a.created
    assert b.created
    assert a.conversation != b.conversation


# --- automatic mail --------------------------------------------------------------------------


def test_auto_reply_is_stored_but_reopens_nothing(email_channel):
    start = email_ingest(
        channel=email_channel,
        raw=first_mail("soren.aeblerod@firma.example", "Din regning for april"),
    )
    our_reply(start.conversation, "<out-2.abc124@nordlys.example>")
    Conversation.objects.filter(pk=start.conversation.pk).update(status="resolved")
    work_items(start.conversation).update(status=WorkItem.Status.DONE)

    received = email_ingest(channel=email_channel, raw=eml("auto_reply"))

    conversation = Conversation.objects.get()
    assert received.conversation == conversation
    assert received.message.flags == ["auto_reply"]
    assert conversation.status == ConversationStatus.RESOLVED
    assert conversation.unread_count == 1  # the first mail only
    assert list(work_items(conversation).values_list("status", flat=True)) == ["done"]


def test_unthreaded_auto_reply_gets_a_resolved_conversation_without_ticket(email_channel):
    received = email_ingest(channel=email_channel, raw=eml("auto_reply"))

    conversation = received.conversation
    assert conversation.status == ConversationStatus.RESOLVED
    assert conversation.ticket is None
    assert not work_items(conversation).exists()


def test_bounce_lands_in_the_conversation_of_the_failed_mail(email_channel):
    start = email_ingest(channel=email_channel, raw=first_mail("ida.kragh@gmail.example", "Q"))
    our_reply(start.conversation, "<out-9.xyz789@nordlys.example>")

    received = email_ingest(channel=email_channel, raw=eml("bounce_dsn"))

    assert received.conversation == start.conversation
    assert "bounce" in received.message.flags
    assert any("ida.kragh@gmail.example failed" in p for p in received.message.problems)
    assert work_items(start.conversation).count() == 1
    assert Conversation.objects.count() == 1
    # The mail server is not a customer: no contact is made for MAILER-DAEMON.
    assert not Contact.objects.filter(identities__value__startswith="mailer-daemon").exists()


def test_mailing_list_mail_is_routed_but_flagged_bulk(email_channel):
    received = email_ingest(channel=email_channel, raw=eml("mailing_list"))

    assert received.message.flags == ["bulk"]
    assert received.conversation.status == ConversationStatus.OPEN
    assert work_items(received.conversation).count() == 1


# --- content ---------------------------------------------------------------------------------


def test_gmail_inline_image_and_attachment_are_stored(email_channel):
    received = email_ingest(channel=email_channel, raw=eml("gmail_new"))

    image, pdf = received.message.attachments.all()
    assert (image.filename, image.content_id, image.is_inline) == (
        "måler.jpg",
        "ii_lx3k9a0b1",
        True,
    )
    assert (pdf.filename, pdf.content_type, pdf.is_inline) == (
        "regning-april.pdf",
        "application/pdf",
        False,
    )
    with pdf.file.open("rb") as handle:
        assert handle.read().startswith(b"%PDF-1.4")
    assert 'src="cid:ii_lx3k9a0b1"' in received.message.html
    assert "<script" not in received.message.html
    contact = received.conversation.contact
    assert (contact.first_name, contact.last_name) == ("Ida", "Kragh")
    assert contact.identities.get().value == "ida.kragh@gmail.example"
    assert received.conversation.subject == "Spørgsmål om måler på Ærvægen"
    assert received.conversation.ticket.subject == "Spørgsmål om måler på Ærvægen"


@pytest.mark.parametrize(
    ("fixture", "subject", "words"),
    [
        ("charset_iso8859_2", "Zażółć gęślą jaźń - reklamacja", "ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ"),
        ("charset_windows1250", "Faktura za październik", "źdźbło, łódź, ćma"),
        ("charset_iso8859_1", "Spørgsmål om ændret beløb", "Æblegrød, øl og ål"),
        ("charset_windows1252", "Målerstand “januar”", "Henrik Sørensen \u2013 Ærø"),
    ],
)
def test_danish_and_polish_letters_survive_storage(email_channel, fixture, subject, words):
    received = email_ingest(channel=email_channel, raw=eml(fixture))

    message = Message.objects.get(pk=received.message.pk)
    assert message.subject == subject
    assert words in message.text


def test_forwarded_mail_keeps_the_original_as_an_eml_attachment(email_channel):
    received = email_ingest(channel=email_channel, raw=eml("forwarded"))

    (attachment,) = received.message.attachments.all()
    assert attachment.content_type == "message/rfc822"
    assert attachment.filename.endswith(".eml")
    contact = received.conversation.contact
    assert (contact.first_name, contact.last_name) == ("Anne", "Jensen")


def test_forbidden_attachment_is_kept_out_and_noted(
    email_channel, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        received = email_ingest(channel=email_channel, raw=eml("forbidden_attachment"))

    message = received.message
    assert [a.filename for a in message.attachments.all()] == ["usage.csv"]
    assert message.flags == ["attachment_refused"]
    assert "invoice.pdf.exe" in message.problems[0]
    assert [e.name for e in published].count("message.flagged") == 1


def test_unparseable_mail_is_stored_raw_and_shown_to_supervisors(
    email_channel, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        received = email_ingest(channel=email_channel, raw=eml("malformed"))

    message = Message.objects.get(pk=received.message.pk)
    assert bytes(message.raw) == eml("malformed")
    assert message.flags == ["unparsed"]
    assert message.problems
    flagged = next(e for e in published if e.name == "message.flagged")
    assert flagged.payload["flags"] == ["unparsed"]
    assert flagged.payload["conversation_id"] == received.conversation.pk
    # Stored once however often the pipe retries it.
    assert not email_ingest(channel=email_channel, raw=eml("malformed")).created


def test_fax_gateway_mail_becomes_a_fax_from_the_sending_number(email_channel):
    received = email_ingest(channel=email_channel, raw=eml("fax_gateway"))

    message = received.message
    assert message.kind == "fax"
    assert message.from_address == "+4533123456"
    (pdf,) = message.attachments.all()
    assert pdf.content_type == "application/pdf"
    identity = received.conversation.contact.identities.get()
    assert (identity.kind, identity.value) == (IdentityKind.PHONE, "+4533123456")
    (item,) = work_items(received.conversation)
    assert item.channel_kind == ChannelKind.EMAIL


def test_fax_gateway_mail_from_an_unknown_address_is_plain_email(email_channel):
    raw = eml("fax_gateway").replace(b"fax@faxgateway.example", b"someone@else.example")

    received = email_ingest(channel=email_channel, raw=raw)

    assert received.message.kind == "email"


def test_oversized_mail_is_refused_before_anything_is_stored(email_channel):
    email_channel.max_message_bytes = 1000
    raw = eml("gmail_new")

    with pytest.raises(MessageTooLarge, match="at most 1,000 bytes"):
        email_ingest(channel=email_channel, raw=raw)

    assert not Message.objects.exists()
    assert not Contact.objects.exists()


def test_reply_token_survives_a_relay_that_lower_cases_addresses(email_channel):
    start = email_ingest(channel=email_channel, raw=first_mail("ida.kragh@gmail.example", "X"))
    token = start.conversation.reply_token

    received = email_ingest(channel=email_channel, raw=eml("reply_token", token=token.lower()))

    assert received.conversation == start.conversation


def test_mail_with_crlf_line_ends_is_the_same_mail(email_channel):
    lf = eml("gmail_new")
    crlf = lf.replace(b"\n", b"\r\n")

    first = email_ingest(channel=email_channel, raw=crlf)
    again = email_ingest(channel=email_channel, raw=crlf)
    as_lf = email_ingest(channel=email_channel, raw=lf)

    assert first.created
    assert not again.created
    assert not as_lf.created  # the same content, delivered with other line ends
    assert "Min måler på Ærvægen 12" in first.message.text
