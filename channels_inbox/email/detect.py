"""What kind of mail is this: a person writing, an automatic reply, a bounce, bulk/list mail?

Rules (PROTOCOLS.md "Email", RFC 3834, RFC 3464):

* `auto_reply`: `Auto-Submitted` present and not `no`; `X-Autoreply` / `X-Autorespond`
  present; `Precedence: auto_reply`; Exchange's out-of-office marker (`X-MS-Exchange-
  Inbox-Rules-Loop` or `X-Auto-Response-Suppress` together with an "Automatic reply"/OOF
  subject is not needed: Exchange also sends `Auto-Submitted: auto-replied`).
* `bounce`: `multipart/report; report-type=delivery-status`, an `X-Failed-Recipients` header,
  or a message from MAILER-DAEMON/postmaster with an empty return path. The original's
  Message-ID is read from the report's `message/rfc822` or `text/rfc822-headers` part so the
  bounce lands in the conversation of the mail that failed.
* `bulk`: `Precedence: bulk|junk|list` or a `List-Id` / `List-Unsubscribe` header: written by a
  person perhaps, but never to be answered automatically.

None of these may ever be answered automatically (no auto-reply loops).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
DAEMON = re.compile(r"^(mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)


@dataclass
class Detection:
    flags: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Message-IDs of the mail a bounce reports on (threading references).
    original_message_ids: list[str] = field(default_factory=list)

    @property
    def automatic(self) -> bool:
        """Written by a machine: stored, but reopens nothing and starts no routing."""
        return "auto_reply" in self.flags or "bounce" in self.flags


def _get(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _is_auto_reply(msg: Message) -> bool:
    auto_submitted = _get(msg, "Auto-Submitted").lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return True
    if _get(msg, "X-Autoreply") or _get(msg, "X-Autorespond") or _get(msg, "X-Autoresponder"):
        return True
    return _get(msg, "Precedence").lower() == "auto_reply"


def _is_bounce(msg: Message) -> bool:
    if msg.get_content_type() == "multipart/report":
        report_type = (msg.get_param("report-type") or "").lower()
        if report_type in ("delivery-status", ""):
            return True
    if _get(msg, "X-Failed-Recipients"):
        return True
    sender = _get(msg, "From").lower()
    return_path = _get(msg, "Return-Path")
    address = sender.rsplit("<", 1)[-1].strip(">")
    return bool(DAEMON.match(address)) and return_path in ("", "<>")


def _bounce_details(msg: Message, detection: Detection) -> None:
    """Original Message-ID and the failed recipients with their status, from the report."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                original = payload[0]
            else:
                data = part.get_payload(decode=True) or b""
                original = message_from_bytes(data, policy=policy.default)
            found = MESSAGE_ID.findall(_get(original, "Message-ID"))
            detection.original_message_ids.extend(found[:1])
        elif ctype == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks[1:] if isinstance(blocks, list) else []:
                recipient = _get(block, "Final-Recipient") or _get(block, "Original-Recipient")
                status = _get(block, "Status")
                diagnostic = _get(block, "Diagnostic-Code")
                action = _get(block, "Action").lower()
                if action and action not in ("failed", "delayed"):
                    continue
                recipient = recipient.split(";", 1)[-1].strip()
                words = f"Delivery to {recipient or 'a recipient'} {action or 'failed'}"
                if status:
                    words += f" (status {status})"
                if diagnostic:
                    words += f": {diagnostic.split(';', 1)[-1].strip()}"
                detection.problems.append(words[:500].rstrip(".") + ".")
    failed = _get(msg, "X-Failed-Recipients")
    if failed and not detection.problems:
        detection.problems.append(f"Delivery to {failed} failed.")
    if not detection.problems:
        detection.problems.append("The mail server reports that a message could not be delivered.")


def detect(msg: Message) -> Detection:
    """Flags and explanations for one parsed message; never raises."""
    detection = Detection()
    try:
        if _is_bounce(msg):
            detection.flags.append("bounce")
            _bounce_details(msg, detection)
        elif _is_auto_reply(msg):
            detection.flags.append("auto_reply")
            detection.problems.append("Automatic reply: it reopens nothing and is never answered.")
        precedence = _get(msg, "Precedence").lower()
        if precedence in ("bulk", "junk", "list") or _get(msg, "List-Id"):
            detection.flags.append("bulk")
    except Exception as exc:  # detection must never stop a message from being stored
        detection.problems.append(f"Auto-reply/bounce detection failed: {exc}.")
    return detection
