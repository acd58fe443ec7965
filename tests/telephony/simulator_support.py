"""A tiny TwiML app for testing the simulated Twilio, and fixtures shared by its tests.

`TwimlApp` answers any path it was given a route for with fixed TwiML (or TwiML computed from
the request's parameters), after checking the request's X-Twilio-Signature against the public
URL with the twilio SDK's `RequestValidator` — as a real app does. Unsigned or forged → 403.
The module is its own URLconf: a catch-all pattern dispatches to the current `TwimlApp`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

from telephony.simulator import rest_log

Route = str | Callable[[dict[str, str]], str]


@dataclass
class Received:
    method: str
    path: str
    params: dict[str, str]


@dataclass
class TwimlApp:
    routes: dict[str, Route] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def route(self, path: str, twiml: Route = "<Response/>") -> str:
        """Answer `path` with `twiml`; returns the absolute public URL of the path."""
        self.routes[path] = twiml
        return self.url(path)

    @staticmethod
    def url(path: str) -> str:
        return settings.PUBLIC_BASE_URL + path

    def hits(self, path: str) -> list[dict[str, str]]:
        return [entry.params for entry in self.received if entry.path == path]


_current: list[TwimlApp] = []


@csrf_exempt
def dispatch(request: HttpRequest, path: str) -> HttpResponse:
    app = _current[-1]
    params = request.POST.dict() if request.method == "POST" else {}
    public_url = settings.PUBLIC_BASE_URL + request.get_full_path()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(settings.TWILIO_WEBHOOK_AUTH_TOKEN).validate(
        public_url, params, signature
    ):
        app.rejected.append(request.path)
        return HttpResponseForbidden("bad signature")
    data = params if request.method == "POST" else request.GET.dict()
    app.received.append(Received(request.method, request.path, data))
    route = app.routes.get(request.path)
    if route is None:
        return HttpResponseNotFound("no such route")
    body = route(data) if callable(route) else route
    if not body.lstrip().startswith("<?xml"):
        body = '<?xml version="1.0" encoding="UTF-8"?>' + body
    return HttpResponse(body, content_type="text/xml")


urlpatterns = [re_path(r"^(?P<path>.*)$", dispatch)]


@pytest.fixture
def clean_rest_log():
    """REST requests recorded by earlier tests (in Redis) must not reach this test's calls."""
    rest_log.clear()
    yield
    rest_log.clear()


@pytest.fixture
def twiml_app(settings, clean_rest_log):
    settings.ROOT_URLCONF = "tests.telephony.simulator_support"
    settings.PUBLIC_BASE_URL = "https://cc.example.com"
    app = TwimlApp()
    _current.append(app)
    yield app
    _current.remove(app)
