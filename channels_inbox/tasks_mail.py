"""Mail tasks: IMAP polling and sending queued messages (filled by the mail transport work)."""

__all__: list[str] = []
