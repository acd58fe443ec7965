"""The one way in: every inbound message, whatever its channel, goes through `message_receive`."""

from __future__ import annotations

from dataclasses import dataclass

from channels_inbox.inbound import InboundMessage
from channels_inbox.models import Conversation, Message


@dataclass(frozen=True)
class Received:
    message: Message
    conversation: Conversation
    created: bool  # False: a duplicate delivery, nothing changed


def message_receive(*, inbound: InboundMessage) -> Received:
    """Dedupe on (channel, external id), find or create the contact by address, thread into a
    conversation, open or link a ticket, hand the conversation to routing, publish
    `message.received`. Idempotent. (Contract; implemented by the inbox core.)"""
    raise NotImplementedError
