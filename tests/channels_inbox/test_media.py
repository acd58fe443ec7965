"""Fetching provider media: a real HTTP server on 127.0.0.1 plays the provider's media host."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from channels_inbox.inbound import InboundAttachment
from channels_inbox.models import Attachment
from channels_inbox.providers import simulated
from channels_inbox.services import media
from channels_inbox.services.receive import message_receive
from channels_inbox.tasks_media import attachment_fetch as attachment_fetch_task

pytestmark = pytest.mark.django_db

PHOTO = b"\xff\xd8\xff\xe0" + b"photo" * 100


class MediaHost(BaseHTTPRequestHandler):
    """/photo.jpg, /big (declares its size), /endless (no length, too long), /gone (404),
    /busy (503), /private.jpg (only with the right basic auth)."""

    expected_auth = ""
    hits: list[str] = []

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, content_type="image/jpeg", length=True) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        MediaHost.hits.append(self.path)
        if self.path == "/photo.jpg":
            self._send(200, PHOTO, "image/jpeg; charset=binary")
        elif self.path == "/big":
            self._send(200, b"x" * 5000)
        elif self.path == "/endless":
            self.close_connection = True
            self._send(200, b"y" * 5000, length=False)
        elif self.path == "/gone":
            self._send(404, b"not found", "text/plain")
        elif self.path == "/busy":
            self._send(503, b"try later", "text/plain")
        elif self.path == "/private.jpg":
            if self.headers.get("Authorization") == MediaHost.expected_auth:
                self._send(200, PHOTO)
            else:
                self._send(401, b"who are you", "text/plain")
        else:
            self._send(404, b"", "text/plain")


@pytest.fixture
def media_host():
    MediaHost.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), MediaHost)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def attachment_for(inbound):
    """`attachment_for(channel, url, filename)` → a received message's URL-only attachment."""

    def make(channel, url, filename="photo.jpg", content_type="application/octet-stream"):
        received = message_receive(
            inbound=inbound(
                channel,
                text="see attached",
                attachments=[
                    InboundAttachment(filename=filename, content_type=content_type, url=url)
                ],
            )
        )
        return received.message.attachments.get()

    return make


def test_media_is_downloaded_and_stored_with_its_digest(media_host, attachment_for, sms_channel):
    attachment = attachment_for(sms_channel, f"{media_host}/photo.jpg")
    stored = media.attachment_fetch(attachment_id=attachment.pk)
    assert stored.file.read() == PHOTO
    assert stored.size == len(PHOTO)
    assert len(stored.sha256) == 64
    # the provider's content type replaces our unknown one (parameters dropped)
    assert stored.content_type == "image/jpeg"


def test_fetching_twice_downloads_once(media_host, attachment_for, sms_channel):
    attachment = attachment_for(sms_channel, f"{media_host}/photo.jpg")
    first = media.attachment_fetch(attachment_id=attachment.pk)
    second = media.attachment_fetch(attachment_id=attachment.pk)
    assert first.file.name == second.file.name
    assert MediaHost.hits == ["/photo.jpg"]
    assert Attachment.objects.filter(pk=attachment.pk).count() == 1


@pytest.mark.parametrize("path", ["/big", "/endless"])
def test_media_over_the_size_limit_is_refused_and_noted(
    media_host, attachment_for, sms_channel, settings, path
):
    settings.INBOX_MEDIA_MAX_BYTES = 1000
    attachment = attachment_for(sms_channel, media_host + path)
    result = media.attachment_fetch(attachment_id=attachment.pk)
    assert not result.file
    message = attachment.message
    message.refresh_from_db()
    assert media.FETCH_FAILED_FLAG in message.flags
    assert any("larger than 1000 bytes" in problem for problem in message.problems)


def test_a_missing_file_is_noted_once_however_often_it_is_tried(
    media_host, attachment_for, sms_channel
):
    attachment = attachment_for(sms_channel, f"{media_host}/gone")
    media.attachment_fetch(attachment_id=attachment.pk)
    media.attachment_fetch(attachment_id=attachment.pk)
    message = attachment.message
    message.refresh_from_db()
    assert message.flags.count(media.FETCH_FAILED_FLAG) == 1
    assert len([p for p in message.problems if "404" in p]) == 1


def test_a_busy_provider_is_retried_and_only_the_last_attempt_gives_up(
    media_host, attachment_for, sms_channel
):
    attachment = attachment_for(sms_channel, f"{media_host}/busy")
    with pytest.raises(media.MediaFetchError) as raised:
        media.attachment_fetch(attachment_id=attachment.pk)
    assert not raised.value.permanent
    message = attachment.message
    message.refresh_from_db()
    assert media.FETCH_FAILED_FLAG not in message.flags

    media.attachment_fetch(attachment_id=attachment.pk, final_attempt=True)
    message.refresh_from_db()
    assert any("503" in problem for problem in message.problems)


def test_the_task_asks_celery_for_a_retry_on_a_transient_failure(
    media_host, attachment_for, sms_channel
):
    from celery.exceptions import Retry

    attachment = attachment_for(sms_channel, f"{media_host}/busy")
    with pytest.raises(Retry):
        attachment_fetch_task.apply(args=[attachment.pk], throw=True).get()


def test_a_forbidden_file_type_is_never_downloaded(media_host, attachment_for, sms_channel):
    attachment = attachment_for(sms_channel, f"{media_host}/photo.jpg", filename="photo.jpg")
    Attachment.objects.filter(pk=attachment.pk).update(filename="invoice.pdf.exe")
    media.attachment_fetch(attachment_id=attachment.pk)
    assert MediaHost.hits == []
    attachment.message.refresh_from_db()
    assert media.FETCH_FAILED_FLAG in attachment.message.flags


def test_twilio_media_is_fetched_with_the_accounts_basic_auth(
    media_host, attachment_for, sms_channel, settings, monkeypatch
):
    # given real Twilio credentials, and the local server standing in for api.twilio.com
    settings.TWILIO_SIMULATED = False
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "real-auth-token"
    monkeypatch.setattr(media, "TWILIO_MEDIA_HOSTS", ("127.0.0.1",))
    credentials = f"{settings.TWILIO_ACCOUNT_SID}:real-auth-token".encode()
    MediaHost.expected_auth = "Basic " + base64.b64encode(credentials).decode()
    attachment = attachment_for(sms_channel, f"{media_host}/private.jpg")

    stored = media.attachment_fetch(attachment_id=attachment.pk)

    assert stored.file.read() == PHOTO


def test_credentials_go_only_to_twilio_for_twilio_channels(settings, messenger_channel):
    settings.TWILIO_SIMULATED = False
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "real-auth-token"
    twilio_url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    assert media._twilio_auth(twilio_url, "sms") == (settings.TWILIO_ACCOUNT_SID, "real-auth-token")
    assert media._twilio_auth(twilio_url, "messenger") is None
    assert media._twilio_auth("https://evil.example/api.twilio.com", "sms") is None
    settings.TWILIO_SIMULATED = True
    assert media._twilio_auth(twilio_url, "whatsapp") is None


def test_simulated_media_needs_no_network(attachment_for, fax_channel):
    simulated.clear()
    url = simulated.media_url("fax", "fax.pdf")
    attachment = attachment_for(fax_channel, url, filename="fax.pdf")
    stored = media.attachment_fetch(attachment_id=attachment.pk)
    assert stored.file.read() == simulated.CANNED_PDF
    assert stored.content_type == "application/pdf"


def test_only_url_attachments_without_a_file_are_scheduled(
    inbound, sms_channel, django_capture_on_commit_callbacks
):
    received = message_receive(
        inbound=inbound(
            sms_channel,
            attachments=[
                InboundAttachment(
                    filename="a.jpg", content_type="image/jpeg", url="https://x.example/a.jpg"
                ),
                InboundAttachment(filename="b.txt", content_type="text/plain", content=b"hello"),
            ],
        )
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ids = media.media_fetch_schedule(message=received.message)
    assert ids == [received.message.attachments.get(filename="a.jpg").pk]
    assert len(callbacks) == 1
