"""The one shape every inbound adapter parses into, before `message_receive` takes over.

Adapters (email MIME, Twilio Messaging, Meta, fax, web form, post) verify their request, build
an `InboundMessage` and hand it to `channels_inbox.services.receive.message_receive`. Nothing
below knows which adapter it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from channels_inbox.models import Channel


@dataclass
class InboundAttachment:
    """A file that arrived with a message: its bytes, or a provider URL to fetch them from."""

    filename: str
    content_type: str
    content: bytes | None = None
    url: str = ""
    content_id: str = ""
    is_inline: bool = False


@dataclass
class InboundMessage:
    """One message as the channel delivered it.

    `external_id` is the natural key for dedupe (email Message-ID, or a digest of the raw message
    when it has none; MessageSid; Meta mid; the fax provider's id). `thread_id` is the channel's
    own thread name where it has one (SMS/WhatsApp: the customer's address; Meta: the sender id).
    `kind` defaults to the channel's kind; a fax delivered by email says `fax`.
    `flags`/`problems` carry what the parser noticed (`unparsed`, `auto_reply`, `bounce`,
    `attachment_refused`, ...), `raw` the original bytes where the channel has them.
    """

    channel: Channel
    external_id: str
    from_address: str
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str = ""
    attachments: list[InboundAttachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    sent_at: datetime | None = None
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    thread_id: str = ""
    kind: str = ""
    raw: bytes | None = None
    flags: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Post: the agent who scanned the letter in.
    author_id: int | None = None
