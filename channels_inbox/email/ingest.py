"""Raw RFC 5322 bytes in, a received message out: the entry point shared by IMAP polling, the
inbound email webhook and fax-to-email."""

from __future__ import annotations

import contextlib
import re

from django.core.exceptions import ValidationError

from channels_inbox.email.parse import ParsedEmail, content_digest, parse_email
from channels_inbox.inbound import InboundAttachment, InboundMessage
from channels_inbox.models import Channel, InboxKind, Message
from channels_inbox.services.receive import Received, message_receive, message_receive_new
from crm.identities import looks_like_phone, normalize_phone

# Long ids are folded onto the next line ("Message-ID:\r\n <…>"): Python's own generator
# does that for anything past 78 characters, so the folding whitespace is allowed.
MESSAGE_ID_HEADER = re.compile(rb"(?im)^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]+>)")
HEADER_END = re.compile(rb"\r?\n\r?\n")
# "Fax from +45 70 10 01 00", "Fax von 004570100100 (3 pages)": the sending fax number.
FAX_NUMBER = re.compile(r"(\+|00)?\d[\d \-/().]{5,20}\d")


class MessageTooLarge(Exception):
    """The message exceeds the channel's `max_message_bytes`; nothing was stored."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"The message is {size:,} bytes; this address accepts at most {limit:,} bytes."
        )


def fax_gateway_senders(channel: Channel) -> set[str]:
    return {
        line.strip().lower()
        for line in (channel.fax_gateway_senders or "").replace(",", "\n").splitlines()
        if line.strip()
    }


def _fax_sender_number(parsed: ParsedEmail, region: str) -> str:
    """The sending fax's number, when the gateway wrote it in the subject or the text."""
    for text in (parsed.subject, parsed.text[:500]):
        for match in FAX_NUMBER.finditer(text or ""):
            candidate = match.group(0)
            if not looks_like_phone(candidate):
                continue
            with contextlib.suppress(ValidationError):
                return normalize_phone(candidate, region=region)
    return ""


def _holder(channel: Channel, message_id: str) -> Message | None:
    """The channel's message stored under `message_id` as external id (raw loaded)."""
    if not message_id:
        return None
    # (channel, external_id) is unique: no ORDER BY needed, unlike .first().
    found = Message.objects.select_related("conversation").filter(
        channel=channel, external_id=message_id
    )[:1]
    return next(iter(found), None)


def _raw_message_id(raw: bytes) -> str:
    """The Message-ID read straight from the header block: cheap, for the redelivery check."""
    end = HEADER_END.search(raw, 0, 262144)
    found = MESSAGE_ID_HEADER.search(raw[: end.start() if end else 65536])
    return found.group(1).decode("utf-8", "replace") if found else ""


def _external_id(parsed: ParsedEmail, digest: str, holder: Message | None) -> str:
    """The Message-ID, or `digest:<sha256>` of the content when there is none. Real mail
    reuses Message-IDs: when the id is taken by a message with other content (`holder`), the
    content's digest is appended, so the second message is stored rather than dropped."""
    if not parsed.message_id:
        return f"digest:{digest}"
    if holder is None:
        return parsed.message_id
    return f"{parsed.message_id[:420]}#{digest[:32]}"


def email_inbound(
    *, channel: Channel, raw: bytes, looked_up: tuple[str, Message | None] | None = None
) -> InboundMessage:
    """The InboundMessage for `raw`. `looked_up` is (Message-ID, the message stored under it
    or None) when the caller already looked; otherwise it is looked up here."""
    parsed = parse_email(raw)
    digest = content_digest(raw)
    if looked_up is not None and looked_up[0] == parsed.message_id:
        holder = looked_up[1]
    else:
        holder = _holder(channel, parsed.message_id)
    flags = list(parsed.detection.flags)
    problems = [*parsed.detection.problems, *parsed.problems]
    if parsed.unparsed:
        flags.append("unparsed")
    kind = ""
    from_address = parsed.from_address
    if parsed.from_address and parsed.from_address in fax_gateway_senders(channel):
        kind = InboxKind.FAX
        number = _fax_sender_number(parsed, channel.tenant.default_region)
        if number:
            from_address = number
    headers = dict(parsed.headers)
    references = list(parsed.references)
    # A bounce threads to the mail that failed.
    for original in parsed.detection.original_message_ids:
        if original not in references:
            references.append(original)
    return InboundMessage(
        channel=channel,
        external_id=_external_id(parsed, digest, holder),
        from_address=from_address,
        from_name=parsed.from_name,
        to=parsed.to,
        cc=parsed.cc,
        subject=parsed.subject,
        text=parsed.text,
        html=parsed.html,
        attachments=[
            InboundAttachment(
                filename=a.filename,
                content_type=a.content_type,
                content=a.content,
                content_id=a.content_id,
                is_inline=a.is_inline,
            )
            for a in parsed.attachments
        ],
        headers=headers,
        sent_at=parsed.sent_at,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=references,
        kind=kind,
        raw=raw,
        flags=flags,
        problems=problems,
    )


def email_ingest(*, channel: Channel, raw: bytes) -> Received:
    """Parse `raw` (never raising on bad MIME: such a message is stored raw and flagged
    `unparsed`) and hand it to `message_receive`. Idempotent: the same bytes twice give the same
    message (`created=False`). Raises MessageTooLarge before parsing an oversized message.
    A message from one of the channel's `fax_gateway_senders` becomes a message of kind `fax`
    (its PDF attached) from the fax number named in its subject, when there is one."""
    if len(raw) > channel.max_message_bytes:
        raise MessageTooLarge(len(raw), channel.max_message_bytes)
    # One query answers both "is this a redelivery?" and "is its Message-ID taken?".
    message_id = _raw_message_id(raw)
    holder = _holder(channel, message_id)
    if holder is not None and (
        holder.raw is None or content_digest(bytes(holder.raw)) == content_digest(raw)
    ):
        return Received(message=holder, conversation=holder.conversation, created=False)
    inbound = email_inbound(channel=channel, raw=raw, looked_up=(message_id, holder))
    if inbound.external_id == message_id:
        # Looked up above and not taken: skip message_receive's own look.
        return message_receive_new(inbound=inbound)
    return message_receive(inbound=inbound)
