from channels_inbox.models.channels import (
    ROUTING_KIND,
    Channel,
    InboxKind,
    MailboxState,
    SmtpSecurity,
)
from channels_inbox.models.conversations import (
    STATUS_RANK,
    Attachment,
    CannedResponse,
    Conversation,
    ConversationStatus,
    Message,
    MessageDirection,
    MessageStatus,
)

__all__ = [
    "ROUTING_KIND",
    "STATUS_RANK",
    "Attachment",
    "CannedResponse",
    "Channel",
    "Conversation",
    "ConversationStatus",
    "InboxKind",
    "MailboxState",
    "Message",
    "MessageDirection",
    "MessageStatus",
    "SmtpSecurity",
]
