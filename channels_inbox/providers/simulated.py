"""The simulated Twilio Messaging, Meta and fax providers.

Inbound: each `*_request` function builds the request the provider would send — same body, same
signature (Twilio's `X-Twilio-Signature` with TWILIO_WEBHOOK_AUTH_TOKEN, Meta's
`X-Hub-Signature-256` with META_WEBHOOK_APP_SECRET, our fax `X-Fax-Signature` with
FAX_WEBHOOK_SECRET) — and a transport posts it to our real webhook path: `DjangoClientTransport`
(tests, same process and transaction) or `HttpTransport` (a running server,
`manage.py simulate_message`).

Outbound: the simulated senders record each request in Redis (`sent_log()`), so a Celery worker
can send while a test or another process looks; `twilio_status_request` then builds the status
callback Twilio would post for a recorded message.

Media: provider media URLs on the `.invalid` host MEDIA_HOST (a name that never resolves) are
served from Redis (`media_put`) or as canned bytes by `media_get`, so fetching them needs no
network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

import redis
from django.conf import settings
from twilio.request_validator import RequestValidator

MEDIA_HOST = "media.simulated.invalid"
LOG_LIMIT = 10_000
KEY_TTL_SECONDS = 24 * 3600

# Smallest valid files of the kinds providers deliver, served for media nobody uploaded.
CANNED_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
CANNED_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


# --- Redis ------------------------------------------------------------------------------------


@cache
def _redis_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _redis() -> redis.Redis:
    return _redis_for(settings.REDIS_URL)


def _key(*parts: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "cc")
    return ":".join([prefix, "inbox-sim", *parts])


def record_send(entry: dict) -> dict:
    """Store one outbound request (`{"provider", "to", "from", "body", ...}`) with its time."""
    entry = {"at": time.time(), **entry}
    pipe = _redis().pipeline()
    pipe.rpush(_key("sent"), json.dumps(entry))
    pipe.ltrim(_key("sent"), -LOG_LIMIT, -1)
    pipe.expire(_key("sent"), KEY_TTL_SECONDS)
    pipe.execute()
    return entry


def sent_log(*, provider: str | None = None) -> list[dict]:
    """Every recorded outbound request, oldest first; only `provider`'s when given."""
    entries = [json.loads(item) for item in _redis().lrange(_key("sent"), 0, -1)]
    if provider is not None:
        entries = [entry for entry in entries if entry.get("provider") == provider]
    return entries


def clear() -> None:
    """Forget recorded sends and uploaded media (tests start from a clean slate)."""
    client = _redis()
    keys = list(client.scan_iter(match=_key("*"), count=1000))
    if keys:
        client.delete(*keys)


def _media_key(url: str) -> str:
    return _key("media", hashlib.sha256(url.encode()).hexdigest())


def media_url(provider: str, filename: str) -> str:
    """A fresh URL on the simulated media host for a file `provider` holds."""
    name = urllib.parse.quote(filename)
    return f"https://{MEDIA_HOST}/{provider}/{secrets.token_hex(8)}/{name}"


def media_put(url: str, content: bytes, content_type: str) -> None:
    """Make `url` (on MEDIA_HOST) serve `content`."""
    client = _redis()
    client.hset(_media_key(url), mapping={"content_type": content_type, "content": content})
    client.expire(_media_key(url), KEY_TTL_SECONDS)


def is_simulated_media(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname == MEDIA_HOST


def media_get(url: str) -> tuple[bytes, str] | None:
    """(content, content type) for a simulated media URL: what `media_put` stored, else canned
    bytes chosen by the file name's extension; None for a name ending in `missing` (a 404)."""
    stored = _redis().hgetall(_media_key(url))
    if stored:
        return stored[b"content"], stored[b"content_type"].decode()
    path = urllib.parse.urlsplit(url).path.lower()
    if path.endswith("missing"):
        return None
    if path.endswith(".pdf"):
        return CANNED_PDF, "application/pdf"
    if path.endswith((".png", ".jpg", ".jpeg", ".gif")):
        return CANNED_PNG, "image/png"
    return b"simulated media\n", "text/plain"


# --- transports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's request as it would arrive: `url` is the public URL it was signed for."""

    url: str
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: str


class Transport(Protocol):
    def send(self, request: WebhookRequest) -> WebhookResponse: ...


class DjangoClientTransport:
    """Through `django.test.Client`: only the URL's path and query are used."""

    def __init__(self, client=None) -> None:
        from django.test import Client

        self.client = client or Client()

    def send(self, request: WebhookRequest) -> WebhookResponse:
        parts = urllib.parse.urlsplit(request.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.generic(
            request.method,
            path,
            data=request.body,
            content_type=request.content_type,
            headers=request.headers,
            secure=parts.scheme == "https",
        )
        return WebhookResponse(response.status_code, response.content.decode(errors="replace"))


class HttpTransport:
    """Real HTTP; `connect_to` ("http://127.0.0.1:8000") replaces the URL's scheme and host."""

    def __init__(self, *, connect_to: str | None = None, timeout: float = 15.0) -> None:
        self.connect_to = connect_to.rstrip("/") if connect_to else None
        self.timeout = timeout

    def send(self, request: WebhookRequest) -> WebhookResponse:
        target = request.url
        if self.connect_to:
            parts = urllib.parse.urlsplit(request.url)
            target = self.connect_to + parts.path + (f"?{parts.query}" if parts.query else "")
        http_request = urllib.request.Request(  # noqa: S310 - our own server's URL
            target,
            data=request.body,
            headers={**request.headers, "Content-Type": request.content_type},
            method=request.method,
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:  # noqa: S310
                return WebhookResponse(response.status, response.read().decode(errors="replace"))
        except urllib.error.HTTPError as error:
            return WebhookResponse(error.code, error.read().decode(errors="replace"))


def public_url(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


# --- Twilio Messaging -------------------------------------------------------------------------

TWILIO_MESSAGING_PATH = "/hooks/twilio/messaging/"
TWILIO_STATUS_PATH = "/hooks/twilio/messaging/status/"


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def twilio_signed(url: str, params: dict[str, str], *, auth_token: str | None = None):
    """A form POST signed as Twilio signs it (URL + sorted parameters, HMAC-SHA1)."""
    token = auth_token or settings.TWILIO_WEBHOOK_AUTH_TOKEN
    signature = RequestValidator(token).compute_signature(url, params)
    return WebhookRequest(
        url=url,
        body=urllib.parse.urlencode(params).encode(),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1 (simulated)"},
    )


def twilio_message_params(
    *,
    to: str,
    from_: str,
    body: str = "",
    media: list[tuple[str, str]] = (),
    message_sid: str | None = None,
) -> dict[str, str]:
    """Twilio's parameters for one inbound SMS/WhatsApp; `media` is (url, content type) pairs."""
    sid = message_sid or new_sid("SM" if not media else "MM")
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": settings.TWILIO_EFFECTIVE_ACCOUNT_SID,
        "MessagingServiceSid": "MG" + "5" * 32,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": str(len(media)),
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    if from_.startswith("whatsapp:"):
        params["ProfileName"] = "Simulated customer"
        params["WaId"] = from_.removeprefix("whatsapp:+")
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    return params


def twilio_message_request(**kwargs) -> WebhookRequest:
    """The signed inbound-message webhook (`twilio_message_params` keywords)."""
    return twilio_signed(public_url(TWILIO_MESSAGING_PATH), twilio_message_params(**kwargs))


def twilio_status_request(
    *,
    message_sid: str,
    status: str,
    from_: str,
    to: str,
    error_code: str = "",
    url: str | None = None,
) -> WebhookRequest:
    """The status callback Twilio posts for an outbound message (to the URL it was given)."""
    params = {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": settings.TWILIO_EFFECTIVE_ACCOUNT_SID,
        "From": from_,
        "To": to,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return twilio_signed(url or public_url(TWILIO_STATUS_PATH), params)


def twilio_report(
    transport: Transport, *, status: str = "delivered", error_code: str = ""
) -> list[tuple[str, WebhookResponse]]:
    """Post a status callback (`status`) for each recorded Twilio send not yet reported with
    it, to the status callback URL the app gave, as Twilio would once the handset answers.
    Returns (sid, response) pairs. Run it from a test, or a shell next to the demo server."""
    client = _redis()
    reported = _key("reported", status)
    answers = []
    for entry in sent_log(provider="twilio"):
        if not client.sadd(reported, entry["sid"]):
            continue
        client.expire(reported, KEY_TTL_SECONDS)
        request = twilio_status_request(
            message_sid=entry["sid"],
            status=status,
            from_=entry["from"],
            to=entry["to"],
            error_code=error_code,
            url=entry.get("status_callback"),
        )
        answers.append((entry["sid"], transport.send(request)))
    return answers


# --- Meta -------------------------------------------------------------------------------------

META_PATH = "/hooks/meta/"


def meta_signature(body: bytes, *, app_secret: str | None = None) -> str:
    secret = (app_secret or settings.META_WEBHOOK_APP_SECRET).encode()
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def meta_signed(payload: dict, *, app_secret: str | None = None) -> WebhookRequest:
    body = json.dumps(payload).encode()
    return WebhookRequest(
        url=public_url(META_PATH),
        body=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": meta_signature(body, app_secret=app_secret)},
    )


def meta_message_payload(
    *,
    object_: str,
    account_id: str,
    sender_id: str,
    text: str = "",
    attachments: list[tuple[str, str]] = (),
    mid: str | None = None,
    timestamp_ms: int | None = None,
) -> dict:
    """One Messenger (`object_="page"`) or Instagram (`"instagram"`) message event;
    `attachments` are (type, url) pairs, type among image, video, audio, file."""
    timestamp_ms = timestamp_ms or int(time.time() * 1000)
    message: dict = {"mid": mid or "m_" + secrets.token_urlsafe(24)}
    if text:
        message["text"] = text
    if attachments:
        message["attachments"] = [
            {"type": kind, "payload": {"url": url}} for kind, url in attachments
        ]
    return {
        "object": object_,
        "entry": [
            {
                "id": account_id,
                "time": timestamp_ms,
                "messaging": [
                    {
                        "sender": {"id": sender_id},
                        "recipient": {"id": account_id},
                        "timestamp": timestamp_ms,
                        "message": message,
                    }
                ],
            }
        ],
    }


def meta_message_request(**kwargs) -> WebhookRequest:
    return meta_signed(meta_message_payload(**kwargs))


def meta_report(
    transport: Transport, *, status: str = "delivered"
) -> list[tuple[str, WebhookResponse]]:
    """Post a delivery receipt (`status="delivered"`) or a read receipt (`"read"`) for each
    recorded Meta send not yet reported with it, as Meta would. Returns (mid, response) pairs."""
    client = _redis()
    reported = _key("reported", f"meta-{status}")
    answers = []
    for entry in sent_log(provider="meta"):
        if not client.sadd(reported, entry["mid"]):
            continue
        client.expire(reported, KEY_TTL_SECONDS)
        now_ms = int(time.time() * 1000)
        receipt = (
            {"delivery": {"mids": [entry["mid"]], "watermark": now_ms}}
            if status == "delivered"
            else {"read": {"mid": entry["mid"], "watermark": now_ms}}
        )
        payload = {
            "object": "instagram" if entry.get("kind") == "instagram" else "page",
            "entry": [
                {
                    "id": entry["account"],
                    "time": now_ms,
                    "messaging": [
                        {
                            "sender": {"id": entry["recipient"]},
                            "recipient": {"id": entry["account"]},
                            "timestamp": now_ms,
                            **receipt,
                        }
                    ],
                }
            ],
        }
        answers.append((entry["mid"], transport.send(meta_signed(payload))))
    return answers


# --- fax --------------------------------------------------------------------------------------


def fax_signature(body: bytes, *, secret: str | None = None) -> str:
    key = (secret or settings.FAX_WEBHOOK_SECRET).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def fax_payload(
    *, from_: str, to: str, media_url: str, pages: int = 1, fax_id: str | None = None
) -> dict:
    """A Telnyx-style `fax.received` event."""
    return {
        "data": {
            "event_type": "fax.received",
            "id": secrets.token_hex(16),
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "record_type": "event",
            "payload": {
                "fax_id": fax_id or "fax-" + secrets.token_hex(12),
                "from": from_,
                "to": to,
                "direction": "inbound",
                "page_count": pages,
                "media_url": media_url,
                "status": "received",
            },
        }
    }


def fax_request(*, token: str, secret: str | None = None, **kwargs) -> WebhookRequest:
    """The signed fax webhook for the channel with `token` (`fax_payload` keywords)."""
    body = json.dumps(fax_payload(**kwargs)).encode()
    return WebhookRequest(
        url=public_url(f"/hooks/fax/{token}/"),
        body=body,
        content_type="application/json",
        headers={"X-Fax-Signature": fax_signature(body, secret=secret)},
    )
