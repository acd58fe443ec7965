"""RFC 5322 / MIME bytes → a `ParsedEmail`: addresses, decoded text, sanitised HTML,
attachments and threading headers. Never raises: what cannot be read is reported in `problems`
and, when nothing useful could be read at all, `unparsed` is set (the caller stores the raw
bytes and flags the message).

Charsets: the declared charset is honoured, except that ISO-8859-1 and US-ASCII labels are read
as windows-1252 (its superset, as browsers do: Outlook labels cp1252 text "iso-8859-1"), and a
part whose bytes do not fit its label is tried as UTF-8, then windows-1252, then Latin-1 (which
cannot fail). Headers are decoded per RFC 2047; raw 8-bit headers are read as UTF-8, else
windows-1252.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from channels_inbox.email.detect import Detection, detect
from channels_inbox.email.quotes import mark_quoted_html
from channels_inbox.email.sanitize import html_to_text, sanitize_html

logger = logging.getLogger("channels_inbox.email")

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Headers that only bloat the stored copy (the full original is in Message.raw anyway).
SKIPPED_HEADERS = ("received", "dkim-signature", "arc-", "x-google-", "x-ms-exchange-")
HEADER_VALUE_MAX = 1000
MAX_REFERENCES = 50
# Labels whose real-world text is windows-1252 more often than not.
DIGEST_HEADERS = {b"from", b"to", b"date", b"subject", b"message-id"}
CP1252_LABELS = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii", "l1"}


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""
    is_inline: bool = False


@dataclass
class ParsedEmail:
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    from_address: str = ""
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    # Where the message was delivered (To, Cc, Delivered-To, X-Original-To, Envelope-To):
    # reply-address tokens are looked for here.
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str = ""
    sent_at: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[ParsedAttachment] = field(default_factory=list)
    detection: Detection = field(default_factory=Detection)
    problems: list[str] = field(default_factory=list)
    unparsed: bool = False


# --- small helpers ---------------------------------------------------------------------------


def normalize_message_id(value: str) -> str:
    """`<id@host>` as stored in Message.message_id; bare ids get their angle brackets."""
    value = (value or "").strip()
    found = MESSAGE_ID.search(value)
    if found:
        return found.group(0)[:500]
    value = value.strip("<> \t\r\n")
    return f"<{value}>"[:500] if value and " " not in value else ""


def message_ids(value: str) -> list[str]:
    return [m[:500] for m in MESSAGE_ID.findall(value or "")]


def content_digest(raw: bytes) -> str:
    """A digest of what the sender wrote, not of how it travelled: the body plus From, To,
    Date, Subject and Message-ID, leaving out the Received/DKIM/X-headers each relay adds. The
    same mail fetched by IMAP and piped to the webhook gives the same digest."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    fields: dict[bytes, bytes] = {}
    current: bytes | None = None
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                fields[current] += b" " + line.strip()
            continue
        name, colon, value = line.partition(b":")
        name = name.strip().lower()
        current = name if colon and name in DIGEST_HEADERS and name not in fields else None
        if current is not None:
            fields[current] = value.strip()
    canonical = b"\n".join(k + b":" + v for k, v in sorted(fields.items()))
    return hashlib.sha256(canonical + b"\n\n" + body.strip()).hexdigest()


def decode_bytes(payload: bytes, charset: str | None) -> str:
    """Text of a MIME part (see the module docstring for the charset rules)."""
    label = (charset or "").strip().strip('"').lower()
    if label in CP1252_LABELS or not label:
        label = "windows-1252"
        try:
            # Mislabelled UTF-8 is common ("us-ascii" headers on UTF-8 bodies).
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            pass
    try:
        codecs.lookup(label)
    except LookupError:
        label = "utf-8"
    for candidate in (label, "utf-8", "windows-1252"):
        try:
            return payload.decode(candidate)
        except UnicodeDecodeError:
            continue
    return payload.decode("latin-1")


def printable(text: str) -> str:
    """`text` without NULs and other control characters (PostgreSQL refuses NUL in text)."""
    return CONTROL.sub("", text)


def _fix_surrogates(text: str) -> str:
    # Raw 8-bit header bytes come back from the parser as surrogate escapes.
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    return decode_bytes(data, "utf-8")


def _rfc2047(value: str) -> str:
    """`value` with its encoded words (=?charset?q?...?=) decoded; unchanged when malformed."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError, TypeError, AttributeError):
        return value


def _raw_values(msg: Message, name: str) -> list[str]:
    """Every value of header `name` as received (raw 8-bit bytes as surrogate escapes)."""
    wanted = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.lower() == wanted]


def header_text(msg: Message, name: str) -> str:
    """One header, decoded (RFC 2047, raw 8-bit), unfolded; "" when absent."""
    values = _raw_values(msg, name)
    if not values:
        return ""
    text = printable(_fix_surrogates(_rfc2047(values[0])))
    return " ".join(text.split())


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """[(display name, address)] of an address header."""
    # Split first, decode the names after: an encoded name may hide a comma ("Jensen, Anne").
    values = [_fix_surrogates(value) for value in _raw_values(msg, name)]
    result: list[tuple[str, str]] = []
    for display, address in getaddresses(values):
        display = _rfc2047(display)
        # Case kept: reply+<token>@ addresses carry a case-sensitive token.
        address = address.strip().strip("<>")
        if "@" in address:
            result.append((" ".join(display.split()), address))
    return result


def _date(msg: Message) -> datetime | None:
    value = header_text(msg, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _headers(msg: Message) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key in dict.fromkeys(msg.keys()):
        lower = key.lower()
        if lower.startswith(SKIPPED_HEADERS) or lower in headers:
            continue
        headers[lower] = header_text(msg, key)[:HEADER_VALUE_MAX]
    return headers


# --- bodies and attachments ------------------------------------------------------------------


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    return _fix_surrogates(_rfc2047(name))


def _part_bytes(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        if isinstance(inner, list):
            # message/rfc822 holds one message; message/delivery-status a list of blocks.
            return b"\n".join(
                m.as_bytes(policy=policy.compat32) if isinstance(m, Message) else bytes(m)
                for m in inner
            )
        return inner.encode("utf-8", "surrogateescape") if isinstance(inner, str) else b""
    payload = part.get_payload(decode=True)
    return payload or b""


def _walk(part: Message, leaves: list[Message]) -> None:
    """Leaf parts in order; a forwarded message (message/rfc822) is one leaf, not opened."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for sub in part.get_payload():
            _walk(sub, leaves)
    else:
        leaves.append(part)


def _bodies(msg: Message, parsed: ParsedEmail) -> None:
    leaves: list[Message] = []
    _walk(msg, leaves)
    text_part = html_part = None
    for leaf in leaves:
        ctype = leaf.get_content_type()
        disposition = (leaf.get_content_disposition() or "").lower()
        if disposition == "attachment" or ctype not in ("text/plain", "text/html"):
            continue
        if ctype == "text/plain" and text_part is None and not _filename(leaf):
            text_part = leaf
        elif ctype == "text/html" and html_part is None and not _filename(leaf):
            html_part = leaf
    # A later plain part next to an earlier one (e.g. Apple Mail's text around an inline
    # image) is appended, so no words are lost.
    texts = []
    for leaf in leaves:
        if leaf is text_part or (
            text_part is not None
            and leaf.get_content_type() == "text/plain"
            and (leaf.get_content_disposition() or "inline") == "inline"
            and not _filename(leaf)
        ):
            texts.append(decode_bytes(_part_bytes(leaf), leaf.get_content_charset()))
    raw_html = (
        decode_bytes(_part_bytes(html_part), html_part.get_content_charset()) if html_part else ""
    )
    parsed.text = printable("\n".join(t.strip("\n") for t in texts).replace("\r\n", "\n"))
    if raw_html:
        parsed.html = sanitize_html(mark_quoted_html(raw_html)).strip()
        if not parsed.text.strip():
            parsed.text = html_to_text(raw_html)
    used = {id(text_part), id(html_part)}
    for index, leaf in enumerate(leaves, start=1):
        if id(leaf) in used:
            continue
        ctype = leaf.get_content_type()
        filename = _filename(leaf)
        if ctype == "text/plain" and not filename and text_part is not None:
            disposition = (leaf.get_content_disposition() or "inline").lower()
            if disposition == "inline":
                continue  # already appended to the text above
        content = _part_bytes(leaf)
        if not content and not filename:
            continue
        content_id = (leaf.get("Content-ID") or "").strip().strip("<>")
        disposition = (leaf.get_content_disposition() or "").lower()
        parsed.attachments.append(
            ParsedAttachment(
                filename=filename or _default_name(ctype, index),
                content_type=ctype,
                content=content,
                content_id=content_id[:255],
                is_inline=bool(content_id) and disposition != "attachment",
            )
        )


def _default_name(content_type: str, index: int) -> str:
    import mimetypes

    if content_type == "message/rfc822":
        return f"message-{index}.eml"
    if content_type == "message/delivery-status":
        return f"delivery-status-{index}.txt"
    fallback = ".txt" if content_type.startswith("text/") else ".bin"
    extension = mimetypes.guess_extension(content_type) or fallback
    return f"part-{index}{extension}"


# --- entry point -----------------------------------------------------------------------------


def parse_email(raw: bytes) -> ParsedEmail:
    """Read `raw`; see the module docstring. Pure: no database."""
    parsed = ParsedEmail()
    try:
        # compat32, not policy.default: headers stay plain strings that this module decodes
        # itself (RFC 2047, raw 8-bit), at a tenth of the cost of the header registry.
        msg = message_from_bytes(raw, policy=policy.compat32)
    except Exception as exc:  # the parser itself rarely fails, but a message must never be lost
        logger.warning("email could not be parsed: %s", exc)
        parsed.unparsed = True
        parsed.problems.append(f"The message could not be parsed: {exc}.")
        return parsed
    if not msg.keys() or not any(k.lower() in ("from", "sender", "date") for k in msg):
        parsed.unparsed = True
        parsed.problems.append("The message has no mail headers (From, Date): stored as is.")
        parsed.text = printable(decode_bytes(raw[:20000], "utf-8"))
        return parsed
    try:
        parsed.headers = _headers(msg)
        parsed.message_id = normalize_message_id(header_text(msg, "Message-ID"))
        in_reply_to = message_ids(header_text(msg, "In-Reply-To"))
        parsed.in_reply_to = in_reply_to[0] if in_reply_to else ""
        parsed.references = message_ids(header_text(msg, "References"))[-MAX_REFERENCES:]
        senders = _addresses(msg, "From") or _addresses(msg, "Sender")
        if senders:
            parsed.from_name, parsed.from_address = senders[0][0], senders[0][1].lower()
        else:
            parsed.problems.append("The sender (From) could not be read.")
        parsed.to = [a for _, a in _addresses(msg, "To")]
        parsed.cc = [a for _, a in _addresses(msg, "Cc")]
        delivered = []
        for name in ("Delivered-To", "X-Original-To", "Envelope-To", "X-Forwarded-To"):
            delivered.extend(a for _, a in _addresses(msg, name))
        parsed.recipients = list(dict.fromkeys([*parsed.to, *parsed.cc, *delivered]))
        parsed.subject = header_text(msg, "Subject")
        parsed.sent_at = _date(msg)
        _bodies(msg, parsed)
        parsed.detection = detect(msg)
        defects = [type(d).__name__ for d in getattr(msg, "defects", [])]
        if defects:
            parsed.problems.append("MIME defects: " + ", ".join(sorted(set(defects))) + ".")
    except Exception as exc:
        logger.warning("email parsing failed part-way: %s", exc, exc_info=True)
        parsed.unparsed = True
        parsed.problems.append(f"The message could only partly be read: {exc}.")
    if not parsed.from_address and not parsed.text and not parsed.html:
        parsed.unparsed = True
    return parsed
