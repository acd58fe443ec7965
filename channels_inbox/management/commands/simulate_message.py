"""Play a provider: post a signed inbound message to our real webhook path.

    python manage.py simulate_message --channel=<id|token|address> --from <address> \
        --text "Hej, min regning er forkert" [--media URL ...] [--subject "..."] \
        [--pages 2] [--base-url http://127.0.0.1:8000]
    python manage.py simulate_message --report delivered|read|failed

SMS and WhatsApp go to /hooks/twilio/messaging/ signed like Twilio, Messenger and Instagram to
/hooks/meta/ signed like Meta, fax to /hooks/fax/<token>/ signed with FAX_WEBHOOK_SECRET, email
to /hooks/email/<token>/ as a generated MIME message. Requests are signed for PUBLIC_BASE_URL and
sent there, or to --base-url (e.g. a local server behind the public name). Without --media a fax
carries a simulated PDF; media URLs on the simulated media host need no network. `--report`
plays the provider's side for simulated replies: Twilio status callbacks, Meta receipts.
"""

from __future__ import annotations

import mimetypes
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from channels_inbox.models import Channel, InboxKind
from channels_inbox.providers import simulated

META_OBJECT = {InboxKind.MESSENGER: "page", InboxKind.INSTAGRAM: "instagram"}
META_MEDIA_TYPE = {"image": "image", "video": "video", "audio": "audio"}


def find_channel(reference: str) -> Channel:
    query = Q(token=reference) | Q(address=reference)
    if reference.isdigit():
        query |= Q(pk=int(reference))
    channels = list(Channel.objects.select_related("tenant").filter(query).order_by("id")[:2])
    if not channels:
        raise CommandError(f"No channel with id, token or address {reference!r}.")
    if len(channels) > 1:
        raise CommandError(f"{reference!r} names several channels; give the id or token.")
    return channels[0]


def _content_type(url: str) -> str:
    return mimetypes.guess_type(url.split("?")[0])[0] or "application/octet-stream"


def build_request(
    channel: Channel,
    *,
    sender: str,
    text: str,
    media: list[str],
    subject: str = "",
    pages: int = 1,
) -> simulated.WebhookRequest:
    """The signed request the channel's provider would send for this message."""
    if channel.kind in (InboxKind.SMS, InboxKind.WHATSAPP):
        if channel.kind == InboxKind.WHATSAPP and not sender.startswith("whatsapp:"):
            sender = "whatsapp:" + sender
        return simulated.twilio_message_request(
            to=channel.address,
            from_=sender,
            body=text,
            media=[(url, _content_type(url)) for url in media],
        )
    if channel.kind in META_OBJECT:
        return simulated.meta_message_request(
            object_=META_OBJECT[channel.kind],
            account_id=channel.address,
            sender_id=sender,
            text=text,
            attachments=[
                (META_MEDIA_TYPE.get(_content_type(url).split("/")[0], "file"), url)
                for url in media
            ],
        )
    if channel.kind == InboxKind.FAX:
        media_url = media[0] if media else simulated.media_url("fax", "fax.pdf")
        return simulated.fax_request(
            token=channel.token, from_=sender, to=channel.address, media_url=media_url, pages=pages
        )
    if channel.kind == InboxKind.EMAIL:
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = channel.address or "inbox@example.invalid"
        first_line = text.splitlines()[0][:60] if text.strip() else ""
        mail["Subject"] = subject or first_line
        mail["Date"] = format_datetime(timezone.now())
        mail["Message-ID"] = make_msgid(domain="simulated.invalid")
        mail.set_content(text or "")
        return simulated.WebhookRequest(
            url=simulated.public_url(f"/hooks/email/{channel.token}/"),
            body=mail.as_bytes(),
            content_type="message/rfc822",
        )
    raise CommandError(
        f"{channel.get_kind_display()} channels have no provider to simulate "
        "(web forms are filled in the browser; letters are filed by agents)."
    )


class Command(BaseCommand):
    help = (
        "Post a signed inbound message (SMS, WhatsApp, Messenger, Instagram, fax, email) "
        "to our real webhook."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--channel", help="channel id, token or address")
        parser.add_argument("--from", dest="sender", help="sender's address")
        parser.add_argument("--text", default="", help="message text")
        parser.add_argument("--media", action="append", default=[], help="media URL (repeat)")
        parser.add_argument("--subject", default="", help="email subject")
        parser.add_argument("--pages", type=int, default=1, help="fax page count")
        parser.add_argument(
            "--base-url", default="", help="send to this server instead of PUBLIC_BASE_URL"
        )
        parser.add_argument(
            "--report",
            choices=["delivered", "read", "failed"],
            help="instead of a message: report this status for every simulated SMS, WhatsApp, "
            "Messenger and Instagram reply not yet reported with it",
        )
        # Tests: through django.test.Client in this process instead of HTTP.
        parser.add_argument(
            "--in-process", action="store_true", help="no HTTP: Django's test client"
        )

    def handle(self, *args, **options) -> None:
        if options["in_process"]:
            transport = simulated.DjangoClientTransport()
        else:
            transport = simulated.HttpTransport(connect_to=options["base_url"] or None)
        if options["report"]:
            self._report(transport, options["report"])
            return
        if not options["channel"] or not options["sender"]:
            raise CommandError("Give --channel and --from (or --report).")
        channel = find_channel(options["channel"])
        if not (options["text"] or options["media"] or channel.kind == InboxKind.FAX):
            raise CommandError("Give --text or --media.")
        request = build_request(
            channel,
            sender=options["sender"],
            text=options["text"],
            media=options["media"],
            subject=options["subject"],
            pages=options["pages"],
        )
        response = transport.send(request)
        self.stdout.write(f"POST {request.url} -> {response.status}")
        if response.body.strip():
            self.stdout.write(response.body.strip()[:2000])
        if response.status >= 400:
            raise CommandError(f"The webhook refused the message ({response.status}).")

    def _report(self, transport, status: str) -> None:
        answers = simulated.twilio_report(
            transport,
            status="undelivered" if status == "failed" else status,
            error_code="30003" if status == "failed" else "",
        )
        if status != "failed":
            answers += simulated.meta_report(transport, status=status)
        for external_id, response in answers:
            self.stdout.write(f"{status} {external_id} -> {response.status}")
        if not answers:
            self.stdout.write("No simulated replies waiting for that status.")
