"""Sending email: a channel's own SMTP server, or the installation's Django email backend.

`sender(channel)` returns a `Sender` for an *email* channel (the registry resolves a web form's
or a letter's reply channel first). A channel with `smtp_host` set is sent through that server
(STARTTLS, SSL/TLS or plain, with its login when one is configured). A channel without one
falls back to Django's configured `EMAIL_BACKEND` — the console in development, `locmem` in
tests, the installation's relay in production — so a demo sends "mail" with no server at all.

SMTP answers are sorted into permanent failures (5xx: a refused recipient, a refused sender,
a bad login) that are not retried, and transient ones (4xx, a dropped connection, a timeout)
that the sending task retries with backoff.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from email.utils import formataddr

from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend

from channels_inbox.models import Channel, SmtpSecurity
from channels_inbox.providers.base import OutboundMessage, SendError, SendResult

logger = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30


def build_email(
    outbound: OutboundMessage, *, channel: Channel, connection=None
) -> EmailMultiAlternatives:
    """The MIME message for `outbound`, from `channel` (the email channel that carries it):
    text (and HTML) body, attachments, and the threading headers the caller put in
    `outbound.headers` (Message-ID, In-Reply-To, References, Reply-To, Auto-Submitted).
    Non-ASCII names and subjects are RFC 2047-encoded by Django."""
    from_email = formataddr((channel.name, channel.address)) if channel.address else ""
    headers = dict(outbound.headers)
    reply_to = headers.pop("Reply-To", "")
    mail = EmailMultiAlternatives(
        subject=outbound.subject,
        body=outbound.text,
        from_email=from_email or None,
        to=outbound.to,
        cc=outbound.cc,
        reply_to=[reply_to] if reply_to else None,
        headers=headers,
        connection=connection,
    )
    if outbound.html:
        mail.attach_alternative(outbound.html, "text/html")
    for attachment in outbound.attachments:
        with attachment.file.open("rb") as handle:
            content = handle.read()
        mail.attach(attachment.filename, content, attachment.content_type or None)
    return mail


def classify_smtp_error(exc: Exception) -> SendError:
    """A SendError saying whether retrying can help (4xx, network) or not (5xx)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        details = "; ".join(
            f"{address}: {code} {_decode(msg)}" for address, (code, msg) in exc.recipients.items()
        )
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return SendError(
            f"Recipient refused: {details}",
            code=str(codes[0]) if codes else "",
            permanent=permanent,
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SendError(
            f"SMTP login refused: {exc.smtp_code} {_decode(exc.smtp_error)}",
            code=str(exc.smtp_code),
            permanent=True,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return SendError(
            f"SMTP server answered {exc.smtp_code} {_decode(exc.smtp_error)}",
            code=str(exc.smtp_code),
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendError(f"SMTP server does not support this: {exc}", permanent=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected | socket.timeout | OSError):
        return SendError(f"SMTP server unreachable: {exc}", code="connection")
    return SendError(f"SMTP error: {exc}")


def _decode(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class SmtpSender:
    """Sends through the channel's own SMTP server (or the Django backend, see module doc)."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    def connection(self):
        channel = self.channel
        if not channel.smtp_host:
            return get_connection(fail_silently=False)
        return EmailBackend(
            host=channel.smtp_host,
            port=channel.smtp_port,
            username=channel.smtp_username or "",
            password=channel.smtp_password or "",
            use_tls=channel.smtp_security == SmtpSecurity.STARTTLS,
            use_ssl=channel.smtp_security == SmtpSecurity.SSL,
            timeout=SMTP_TIMEOUT_SECONDS,
            fail_silently=False,
        )

    def send(self, outbound: OutboundMessage) -> SendResult:
        if not outbound.to:
            raise SendError("The message has no recipient.", code="no_recipient", permanent=True)
        if not self.channel.address:
            raise SendError(
                "The email channel has no address to send from.", code="no_sender", permanent=True
            )
        connection = self.connection()
        mail = build_email(outbound, channel=self.channel, connection=connection)
        try:
            sent = mail.send(fail_silently=False)
        except UnicodeEncodeError as exc:
            # smtplib sends logins as ASCII: a password with "ø" can never work.
            raise SendError(
                "The channel's SMTP username or password has characters SMTP logins cannot "
                "carry (only ASCII).",
                code="smtp_login_charset",
                permanent=True,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            error = classify_smtp_error(exc)
            logger.warning(
                "SMTP send of message %s through %s failed (%s): %s",
                outbound.message.pk,
                self.channel.smtp_host or "the Django email backend",
                "permanent" if error.permanent else "transient",
                error,
            )
            raise error from exc
        if not sent:
            raise SendError("The email backend sent nothing.", code="not_sent")
        return SendResult(external_id=outbound.headers.get("Message-ID", ""), status="sent")


def sender(channel: Channel) -> SmtpSender:
    """The sender for an email channel (see the module docstring for the fallback)."""
    return SmtpSender(channel)
