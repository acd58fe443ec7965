"""Outbound adapters: one small interface, a real and a simulated implementation per provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from channels_inbox.models import Attachment, Channel, Message


@dataclass
class OutboundMessage:
    """What a provider needs to send one message. `headers` carries email threading
    (Message-ID, In-Reply-To, References, Reply-To, Auto-Submitted)."""

    channel: Channel
    message: Message
    to: list[str]
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    external_id: str
    status: str = "sent"  # a MessageStatus value


class SendError(Exception):
    """The provider refused. `permanent` failures are not retried."""

    def __init__(self, message: str, *, code: str = "", permanent: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent


class Sender(Protocol):
    def send(self, outbound: OutboundMessage) -> SendResult: ...


# Each provider module exposes `sender(channel) -> Sender`, choosing the real or the simulated
# implementation from settings: providers/smtp.py (email, and web form / post replies through a
# reply channel), providers/twilio_messaging.py (sms, whatsapp), providers/meta.py (messenger,
# instagram). providers/registry.py picks the module by channel kind.
