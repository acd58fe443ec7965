"""How the simulated Twilio reaches the app, and how it signs what it sends.

`DjangoClientTransport` goes through `django.test.Client` (tests: same process, same database
transaction); `HttpTransport` makes real HTTP requests (a running server, `simulate_call`).
Both receive the *public* URL — the one signed, as Twilio signs the URL it was given — and may
send it elsewhere (`HttpTransport(connect_to=...)`, e.g. 127.0.0.1:8000 behind a proxy).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from twilio.request_validator import RequestValidator


@dataclass(frozen=True)
class TransportResponse:
    status: int
    body: str
    content_type: str = ""


class Transport(Protocol):
    def send(
        self, *, method: str, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> TransportResponse: ...


def signed_request(
    *, method: str, url: str, params: dict[str, str], auth_token: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    """(url, body params, headers) as Twilio sends them: a POST signs the URL plus the sorted
    form parameters; a GET carries the parameters in the query string and signs the full URL."""
    if method.upper() == "GET":
        separator = "&" if urllib.parse.urlsplit(url).query else "?"
        url = url + separator + urllib.parse.urlencode(params)
        params = {}
    signature = RequestValidator(auth_token).compute_signature(url, params)
    headers = {"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1 (simulated)"}
    return url, params, headers


class DjangoClientTransport:
    """Requests through `django.test.Client`: only the path and query of the URL are used."""

    def __init__(self, client=None) -> None:
        from django.test import Client

        self.client = client or Client()

    def send(
        self, *, method: str, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> TransportResponse:
        parts = urllib.parse.urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        secure = parts.scheme == "https"
        if method.upper() == "GET":
            response = self.client.get(path, headers=headers, secure=secure)
        else:
            response = self.client.post(path, params, headers=headers, secure=secure)
        return TransportResponse(
            status=response.status_code,
            body=response.content.decode(errors="replace"),
            content_type=response.get("Content-Type", ""),
        )


class HttpTransport:
    """Real HTTP with urllib; `connect_to` ("http://127.0.0.1:8000") replaces scheme and host."""

    def __init__(self, *, connect_to: str | None = None, timeout: float = 15.0) -> None:
        self.connect_to = connect_to.rstrip("/") if connect_to else None
        # Twilio gives up on a webhook after 15 s; so do we.
        self.timeout = timeout

    def send(
        self, *, method: str, url: str, params: dict[str, str], headers: dict[str, str]
    ) -> TransportResponse:
        target = url
        if self.connect_to:
            parts = urllib.parse.urlsplit(url)
            target = self.connect_to + parts.path + (f"?{parts.query}" if parts.query else "")
        data = None
        if method.upper() != "GET":
            data = urllib.parse.urlencode(params).encode()
            headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        request = urllib.request.Request(target, data=data, headers=headers, method=method)  # noqa: S310 - http(s) URLs from TwiML
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return TransportResponse(
                    status=response.status,
                    body=response.read().decode(errors="replace"),
                    content_type=response.headers.get("Content-Type", ""),
                )
        except urllib.error.HTTPError as error:
            return TransportResponse(
                status=error.code,
                body=error.read().decode(errors="replace"),
                content_type=error.headers.get("Content-Type", ""),
            )
