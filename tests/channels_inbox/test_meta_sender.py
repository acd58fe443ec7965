"""Sending Messenger/Instagram replies: the Send API at the HTTP edge, and the simulated Meta."""

from __future__ import annotations

import pytest
import requests

from channels_inbox.models import Message
from channels_inbox.providers import meta, simulated
from channels_inbox.providers.base import OutboundMessage, SendError
from channels_inbox.providers.registry import sender_for


class FakeResponse:
    def __init__(self, status: int, body) -> None:
        self.status_code = status
        self._body = body

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class GraphSession:
    """Stands in for graph.facebook.com at the HTTP edge: records each POST, answers as told."""

    def __init__(self, status=200, body=None, error: Exception | None = None) -> None:
        self.calls: list[dict] = []
        self.status = status
        self.body = body if body is not None else {"recipient_id": "6543", "message_id": "m_sent_1"}
        self.error = error

    def post(self, url, **kwargs):
        self.calls.append({"url": url, **kwargs})
        if self.error:
            raise self.error
        return FakeResponse(self.status, self.body)


def outbound(channel, text="Vi åbner kl. 10.") -> OutboundMessage:
    return OutboundMessage(channel=channel, message=Message(pk=9), to=["6543"], text=text)


def test_the_registry_picks_meta_for_messenger_and_instagram(
    settings, messenger_channel, instagram_channel
):
    settings.META_SIMULATED = False
    assert isinstance(sender_for(messenger_channel), meta.MetaSender)
    assert isinstance(sender_for(instagram_channel), meta.MetaSender)
    settings.META_SIMULATED = True
    assert isinstance(sender_for(messenger_channel), meta.SimulatedMetaSender)


def test_a_reply_is_posted_to_the_send_api_with_the_page_token(settings, messenger_channel):
    settings.META_GRAPH_URL = "https://graph.facebook.com/v21.0"
    session = GraphSession()
    result = meta.MetaSender(messenger_channel, session=session).send(outbound(messenger_channel))
    assert (result.external_id, result.status) == ("m_sent_1", "sent")
    (call,) = session.calls
    assert call["url"] == "https://graph.facebook.com/v21.0/me/messages"
    assert call["headers"] == {"Authorization": "Bearer EAAB-test-page-token"}
    assert call["json"] == {
        "recipient": {"id": "6543"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Vi åbner kl. 10."},
    }
    assert call["timeout"]


def test_outside_the_messaging_window_the_failure_is_permanent_with_metas_reason(
    messenger_channel,
):
    body = {
        "error": {
            "message": "(#10) This message is sent outside of allowed window.",
            "type": "OAuthException",
            "code": 10,
            "error_subcode": 2018278,
        }
    }
    with pytest.raises(SendError) as raised:
        meta.MetaSender(messenger_channel, session=GraphSession(400, body)).send(
            outbound(messenger_channel)
        )
    assert raised.value.permanent
    assert raised.value.code == "2018278"
    assert "outside of allowed window" in str(raised.value)


@pytest.mark.parametrize(
    "session",
    [
        GraphSession(
            400,
            {"error": {"message": "Calls to this api have exceeded the rate limit.", "code": 613}},
        ),
        GraphSession(502, ValueError("not json")),
        GraphSession(error=requests.ConnectionError("reset")),
    ],
)
def test_rate_limits_and_outages_are_retried(messenger_channel, session):
    with pytest.raises(SendError) as raised:
        meta.MetaSender(messenger_channel, session=session).send(outbound(messenger_channel))
    assert not raised.value.permanent


def test_nothing_is_sent_without_a_token_or_with_too_long_a_text(messenger_channel):
    session = GraphSession()
    with pytest.raises(SendError, match="at most 2000"):
        meta.MetaSender(messenger_channel, session=session).send(
            outbound(messenger_channel, text="x" * 2001)
        )
    messenger_channel.meta_access_token = ""
    with pytest.raises(SendError, match="no page access token"):
        meta.MetaSender(messenger_channel, session=session).send(outbound(messenger_channel))
    assert session.calls == []


def test_the_simulated_meta_records_the_reply(settings, instagram_channel):
    settings.META_SIMULATED = True
    simulated.clear()
    result = meta.sender(instagram_channel).send(outbound(instagram_channel))
    (entry,) = simulated.sent_log(provider="meta")
    assert entry["mid"] == result.external_id
    assert (entry["kind"], entry["account"], entry["recipient"]) == (
        "instagram",
        "17841400000000001",
        "6543",
    )
    assert entry["text"] == "Vi åbner kl. 10."
    simulated.clear()
