"""Which provider sends a channel's messages.

| channel kind         | sent by                                                        |
|----------------------|----------------------------------------------------------------|
| email                | SMTP (`providers/smtp.py`) through the channel itself          |
| webform, post, fax   | SMTP through the channel's `reply_channel` (an email channel)  |
| sms, whatsapp        | Twilio Messaging (`providers/twilio_messaging.py`)             |
| messenger, instagram | Meta Send API (`providers/meta.py`)                            |

Web forms, scanned letters and faxes have no way back of their own: a reply to them is an email
to the customer's address, sent from the reply channel configured on the channel. Without one
the reply fails with a reason the agent sees (answer by letter or phone instead). We do not send
faxes: Twilio's fax API is gone and no outbound fax provider is configured.

Provider modules are imported inside `sender_for`, so importing the registry costs nothing and a
provider's SDK is loaded only when its channel sends.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from channels_inbox.models import Channel, InboxKind
from channels_inbox.providers.base import Sender, SendError

# Kinds that answer by email through their `reply_channel`.
REPLY_BY_EMAIL = frozenset({InboxKind.WEBFORM, InboxKind.POST, InboxKind.FAX})


def email_channel_for(channel: Channel) -> Channel | None:
    """The email channel that carries mail for `channel`: itself, or its reply channel."""
    if channel.kind == InboxKind.EMAIL:
        return channel
    if channel.kind in REPLY_BY_EMAIL:
        reply = channel.reply_channel
        if reply is not None and reply.kind == InboxKind.EMAIL and reply.is_active:
            return reply
    return None


def sender_for(channel: Channel) -> Sender:
    """The sender for messages on `channel`. Raises a permanent SendError when the channel has
    no way to send (a web form or letter without an email reply channel)."""
    if channel.kind == InboxKind.EMAIL or channel.kind in REPLY_BY_EMAIL:
        carrier = email_channel_for(channel)
        if carrier is None:
            raise SendError(
                _(
                    "The %(kind)s channel “%(name)s” has no email reply channel: answer this "
                    "customer by letter or phone."
                )
                % {"kind": channel.get_kind_display(), "name": channel.name},
                code="no_reply_channel",
                permanent=True,
            )
        from channels_inbox.providers import smtp

        return smtp.sender(carrier)
    if channel.kind in (InboxKind.SMS, InboxKind.WHATSAPP):
        from channels_inbox.providers import twilio_messaging

        return twilio_messaging.sender(channel)
    if channel.kind in (InboxKind.MESSENGER, InboxKind.INSTAGRAM):
        from channels_inbox.providers import meta

        return meta.sender(channel)
    raise SendError(
        _("No provider sends %(kind)s messages.") % {"kind": channel.kind},
        code="no_provider",
        permanent=True,
    )
