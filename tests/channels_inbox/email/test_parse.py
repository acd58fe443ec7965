"""MIME parsing of real-world mail: charsets, encoded headers, multipart bodies, attachments,
sanitised HTML, quoted-text folding and auto-reply/bounce detection. No database."""

from __future__ import annotations

import pytest

from channels_inbox.email.parse import content_digest, parse_email
from channels_inbox.email.quotes import mark_quoted_html, split_quoted, split_quoted_html
from channels_inbox.email.sanitize import html_to_text, sanitize_html
from tests.channels_inbox.email.support import eml

DANISH = "æøåÆØÅ"
POLISH = "ąćęłńóśźż"


@pytest.mark.parametrize(
    ("fixture", "sender", "subject", "in_text"),
    [
        (
            "charset_iso8859_2",
            "Zofia Grzegorzewska-Łącka",
            "Zażółć gęślą jaźń - reklamacja",
            "Zażółć gęślą jaźń: ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ.",
        ),
        (
            "charset_windows1250",
            "Piotr Łukasiewicz",
            "Faktura za październik",
            "źdźbło, łódź, ćma, śnieg, żółw — ąćęłńóśźż.",
        ),
        (
            "charset_iso8859_1",
            "Birgitte Nørgård",
            "Spørgsmål om ændret beløb",
            # Labelled ISO-8859-1 but written in windows-1252 (€, en dash), as Outlook does.
            "Beløbet på 1.200 € er ændret \u2013 hvorfor? Æblegrød, øl og ål.",
        ),
        (
            "charset_windows1252",
            "Henrik Sørensen",
            "Målerstand “januar”",
            "Henrik Sørensen \u2013 Ærø",
        ),
        ("charset_utf8_raw_headers", "Åse Ødegård", "Spørgsmål fra Łódź", "Ærø og Łódź"),
    ],
)
def test_charsets_and_encoded_headers_survive(fixture, sender, subject, in_text):
    parsed = parse_email(eml(fixture))

    assert parsed.from_name == sender
    assert parsed.subject == subject
    assert in_text in parsed.text
    assert not parsed.unparsed


def test_outlook_reply_reads_threading_headers_and_folds_the_quote():
    parsed = parse_email(eml("outlook_reply"))

    assert parsed.from_address == "soren.aeblerod@firma.example"
    assert parsed.from_name == "Søren Æblerød"
    assert parsed.subject == "SV: Din regning for april [#1001]"
    assert parsed.in_reply_to == "<out-1.abc123@nordlys.example>"
    assert parsed.references == ["<out-1.abc123@nordlys.example>"]
    assert parsed.message_id.startswith("<AM0PR07MB4561")
    assert parsed.sent_at.isoformat() == "2026-05-04T07:12:40+00:00"
    new, quoted = split_quoted(parsed.text)
    assert new.endswith("Søren Æblerød")
    assert quoted.startswith("________________________________\nFra: Nordlys")
    # The HTML is kept, made safe: no event handlers, no <style> or <head> residue.
    assert "Kan I sende en kreditnota?" in parsed.html
    assert "onerror" not in parsed.html
    assert "<style" not in parsed.html
    assert "received" not in parsed.headers  # relay noise is not copied, raw keeps it
    assert parsed.headers["thread-topic"] == "Din regning for april [#1001]"


def test_gmail_message_with_inline_image_and_attachment():
    parsed = parse_email(eml("gmail_new"))

    assert parsed.subject == "Spørgsmål om måler på Ærvægen"
    assert "Min måler på Ærvægen 12" in parsed.text
    assert 'src="cid:ii_lx3k9a0b1"' in parsed.html
    assert "<script" not in parsed.html
    assert "steal()" not in parsed.html
    assert "javascript:" not in parsed.html
    image, pdf = parsed.attachments
    assert (image.filename, image.content_type, image.content_id, image.is_inline) == (
        "måler.jpg",
        "image/jpeg",
        "ii_lx3k9a0b1",
        True,
    )
    assert image.content.startswith(b"\xff\xd8")
    assert (pdf.filename, pdf.content_type, pdf.is_inline) == (
        "regning-april.pdf",
        "application/pdf",
        False,
    )
    assert pdf.content.startswith(b"%PDF-1.4")
    assert parsed.recipients == ["kundeservice@nordlys.example"]


def test_apple_mail_quoted_printable_flowed_reply():
    parsed = parse_email(eml("apple_mail_reply"))

    assert parsed.subject == "Flytning \u2013 ny adresse fra 1. juni"
    assert parsed.in_reply_to == "<out-7.def456@nordlys.example>"
    new, quoted = split_quoted(parsed.text)
    assert new == (
        "Hej igen,\n\nJeg flytter til Grønnegade 7, 8000 Aarhus C den 1. juni. "
        "Kan I flytte aftalen med?\n\nMads"
    )
    assert quoted.startswith("> Den 5. maj 2026 kl. 15.20 skrev Nordlys")


def test_forwarded_message_is_kept_whole_as_an_attachment():
    parsed = parse_email(eml("forwarded"))

    assert parsed.from_name == "Jensen, Anne"
    assert "Jeg videresender fakturaen" in parsed.text
    assert "12.500 kr" not in parsed.text  # the forwarded mail is not mixed into the text
    (forwarded,) = parsed.attachments
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.filename == "Faktura 88123.eml"
    assert b"Message-ID: <faktura-88123@leverandor.example>" in forwarded.content


def test_auto_reply_is_detected():
    parsed = parse_email(eml("auto_reply"))

    assert parsed.detection.flags == ["auto_reply"]
    assert parsed.detection.automatic


def test_bounce_names_the_failed_recipient_and_the_original_message():
    parsed = parse_email(eml("bounce_dsn"))

    assert "bounce" in parsed.detection.flags
    assert parsed.detection.original_message_ids == ["<out-9.xyz789@nordlys.example>"]
    (problem,) = parsed.detection.problems
    assert "ida.kragh@gmail.example failed (status 5.1.1)" in problem
    assert "does not exist" in problem


def test_mailing_list_mail_is_bulk_not_an_auto_reply():
    parsed = parse_email(eml("mailing_list"))

    assert parsed.detection.flags == ["bulk"]
    assert not parsed.detection.automatic


def test_person_written_mail_has_no_flags():
    assert parse_email(eml("gmail_new")).detection.flags == []


def test_garbage_is_unparsed_but_readable():
    parsed = parse_email(eml("malformed"))

    assert parsed.unparsed
    assert "garbage" in parsed.text
    assert "\x00" not in parsed.text
    assert parsed.problems


def test_truncated_multipart_keeps_what_arrived():
    raw = eml("gmail_new")
    parsed = parse_email(raw[: raw.index(b"--000000000000a1b2c3d4e5f60717\nContent-Type: image")])

    assert "Min måler på Ærvægen 12" in parsed.text
    assert not parsed.unparsed
    assert any("MIME defects" in p for p in parsed.problems)


def test_content_digest_ignores_relay_headers_but_not_content():
    raw = eml("no_message_id")
    relayed = b"Received: from relay.example by mx.example; Wed, 13 May 2026\n" + raw

    assert content_digest(relayed) == content_digest(raw)
    assert content_digest(raw.replace(b"umowy", b"faktury")) != content_digest(raw)


def test_sanitize_keeps_formatting_and_drops_active_content():
    html = (
        '<p style="color:red" onclick="x()">Hej <b>Ida</b></p><iframe src="https://x"></iframe>'
        '<a href="https://nordlys.example/faq">FAQ</a><form><input name="pw"></form>'
    )
    clean = sanitize_html(html)

    assert "<b>Ida</b>" in clean
    assert 'href="https://nordlys.example/faq"' in clean
    assert 'rel="noopener noreferrer nofollow"' in clean
    for bad in ("onclick", "style=", "<iframe", "<form", "<input"):
        assert bad not in clean
    assert html_to_text(html) == "Hej Ida\nFAQ"


@pytest.mark.parametrize(
    ("text", "new", "quoted_start"),
    [
        ("Tak!\n\nOn Mon, 4 May 2026 at 10:00, Nordlys <k@n.example> wrote:\n> Hej", "Tak!", "On"),
        (
            "Dziękuję.\n\nW dniu 4.05.2026 o 10:00, Obsługa <o@w.example> pisze:\n> Dzień dobry",
            "Dziękuję.",
            "W dniu",
        ),
        ("Fint.\n\n-----Original Message-----\nFrom: X", "Fint.", "-----Original"),
        ("Ok\n\nFra: Nordlys <k@n.example>\nSendt: 3. maj 2026\nEmne: x", "Ok", "Fra:"),
        ("Svar nederst\n\n> citat 1\n> citat 2\n", "Svar nederst", "> citat 1"),
    ],
)
def test_split_quoted_finds_the_history(text, new, quoted_start):
    got_new, quoted = split_quoted(text)

    assert got_new == new
    assert quoted.startswith(quoted_start)


@pytest.mark.parametrize(
    "text",
    [
        "> spørgsmål 1\nsvar 1\n> spørgsmål 2\nsvar 2",  # inline answers are the reply
        "Den nye regning skrev I forkert beløb på:\n500 kr",  # no date: not an attribution
        "> only a quote",  # nothing would remain
        "Plain message without any quote.",
    ],
)
def test_split_quoted_leaves_replies_alone(text):
    assert split_quoted(text) == (text, "")


def test_outlook_html_history_is_marked_for_folding():
    parsed = parse_email(eml("outlook_reply"))

    new, quoted = split_quoted_html(parsed.html)

    assert "Kan I sende en kreditnota?" in new
    assert "Fra:" not in new
    assert quoted.startswith('<div class="cc-quoted">')
    assert "Vi har modtaget din henvendelse" in quoted


@pytest.mark.parametrize(
    "quote",
    [
        '<div class="gmail_quote"><div class="gmail_attr">On Mon wrote:</div>'
        '<blockquote class="gmail_quote">old</blockquote></div>',
        '<blockquote type="cite"><div>old</div></blockquote>',
        '<div class="moz-cite-prefix">Den 4.5.2026 skrev X:</div><blockquote>old</blockquote>',
    ],
)
def test_html_quotes_of_common_mail_programs_fold(quote):
    html = sanitize_html(mark_quoted_html(f"<html><body><div>Tak!</div>{quote}</body></html>"))

    new, quoted = split_quoted_html(html)

    assert new == "<div>Tak!</div>"
    assert "old" in quoted
    assert "old" not in new


def test_html_that_is_only_a_quote_is_not_folded():
    html = sanitize_html(mark_quoted_html('<blockquote type="cite">all of it</blockquote>'))

    assert split_quoted_html(html) == (html, "")


def test_encoded_display_name_with_a_comma_is_one_sender():
    raw = eml("no_message_id").replace(
        b"From: Piotr Nowak <piotr@nowak.example>",
        b"From: =?utf-8?Q?Nowak=2C_Pawe=C5=82?= <pawel@nowak.example>",
    )

    parsed = parse_email(raw)

    assert (parsed.from_name, parsed.from_address) == ("Nowak, Paweł", "pawel@nowak.example")
