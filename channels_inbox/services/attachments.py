"""Inbound attachments: which are let in, and storing them.

Refused (kept out, the message flagged `attachment_refused` with the reason in `problems`):

* an extension in `settings.INBOX_FORBIDDEN_EXTENSIONS` (the last one counts, so
  `invoice.pdf.exe` is refused);
* more than `settings.INBOX_MEDIA_MAX_BYTES` bytes.

Accepted files with content are written to the default storage (`Attachment.file`, sha256 and
size kept); files announced only by a provider URL get a row with `source_url` and no file yet
(the messaging adapters fetch them later). Files are written before the transaction commits,
so a rolled-back message can leave an orphan file behind (never a row without its file).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.text import get_valid_filename

from channels_inbox.inbound import InboundAttachment
from channels_inbox.models import Attachment, Message

FILENAME_MAX = 120


@dataclass
class Screened:
    accepted: list[InboundAttachment] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _extension(filename: str) -> str:
    return os.path.splitext(filename.strip().rstrip("."))[1].lower()


def safe_filename(filename: str, content_type: str = "") -> str:
    """A storable file name: no directories, no control characters, a sensible extension."""
    name = unicodedata.normalize("NFC", filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    try:
        name = get_valid_filename(name)
    except Exception:  # SuspiciousFileOperation for names like ".."
        name = ""
    if not name:
        name = "attachment" + (mimetypes.guess_extension(content_type or "") or ".bin")
    if len(name) > FILENAME_MAX:
        stem, extension = os.path.splitext(name)
        name = stem[: FILENAME_MAX - len(extension)] + extension
    return name


def attachments_screen(attachments: list[InboundAttachment]) -> Screened:
    """Split `attachments` into those let in and the reasons for those kept out."""
    forbidden = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in
                 settings.INBOX_FORBIDDEN_EXTENSIONS}  # fmt: skip
    max_bytes = settings.INBOX_MEDIA_MAX_BYTES
    screened = Screened()
    for attachment in attachments:
        extension = _extension(attachment.filename)
        if extension in forbidden:
            screened.problems.append(
                f"Attachment “{attachment.filename}” was kept out: files of type {extension} "
                "are not accepted."
            )
        elif attachment.content is not None and len(attachment.content) > max_bytes:
            screened.problems.append(
                f"Attachment “{attachment.filename}” was kept out: "
                f"{len(attachment.content):,} bytes is more than the {max_bytes:,} allowed."
            )
        else:
            screened.accepted.append(attachment)
    if screened.problems:
        screened.flags.append("attachment_refused")
    return screened


def attachments_store(
    *, message: Message, attachments: list[InboundAttachment]
) -> list[Attachment]:
    """Store accepted attachments of `message` (one INSERT for all rows). Runs in the caller's
    transaction."""
    rows = []
    for attachment in attachments:
        filename = safe_filename(attachment.filename, attachment.content_type)
        row = Attachment(
            tenant_id=message.tenant_id,
            message=message,
            filename=filename,
            content_type=(attachment.content_type or "application/octet-stream")[:100],
            content_id=attachment.content_id[:255],
            is_inline=attachment.is_inline,
            source_url=attachment.url[:1000] if attachment.content is None else "",
        )
        if attachment.content is not None:
            row.size = len(attachment.content)
            row.sha256 = hashlib.sha256(attachment.content).hexdigest()
            row.file.save(filename, ContentFile(attachment.content), save=False)
        rows.append(row)
    return Attachment.objects.bulk_create(rows) if rows else []
