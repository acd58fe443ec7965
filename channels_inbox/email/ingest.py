"""Raw RFC 5322 bytes in, a received message out: the entry point shared by IMAP polling, the
inbound email webhook and fax-to-email."""

from __future__ import annotations

from channels_inbox.models import Channel
from channels_inbox.services.receive import Received


class MessageTooLarge(Exception):
    """The message exceeds the channel's `max_message_bytes`; nothing was stored."""


def email_ingest(*, channel: Channel, raw: bytes) -> Received:
    """Parse `raw` (never raising on bad MIME: such a message is stored raw and flagged
    `unparsed`) and hand it to `message_receive`. Idempotent: the same bytes twice give the same
    message (`created=False`). Raises MessageTooLarge before parsing an oversized message.
    (Contract; implemented by the inbox core.)"""
    raise NotImplementedError
