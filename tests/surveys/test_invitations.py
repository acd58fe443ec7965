"""Web survey links sent when a conversation is resolved (per channel setting), once."""

from __future__ import annotations

import re

import pytest

from channels_inbox import tasks_mail
from channels_inbox.models import InboxKind, Message, MessageDirection
from channels_inbox.services.conversations import conversation_set_status
from crm.events import DomainEvent
from surveys.models import ChannelSurvey, SurveyInvitation, SurveyResponse
from surveys.subscribers import on_event
from tests.channels_inbox.conftest import make_channel
from tests.channels_inbox.mailservers import conversation_with_inbound
from tests.crm.factories import QueueFactory
from tests.surveys.support import csat_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr(tasks_mail.message_send, "delay", ids.append)
    return ids


@pytest.fixture
def conversation(tenant):
    queue = QueueFactory(tenant=tenant, name="Kundeservice")
    channel = make_channel(
        tenant, queue, InboxKind.EMAIL, name="Mail", address="kundeservice@nordlys.example"
    )
    return conversation_with_inbound(channel)


def resolved(conversation) -> DomainEvent:
    return DomainEvent(
        name="conversation.status_changed",
        tenant_id=conversation.tenant_id,
        payload={"conversation_id": conversation.pk, "status": "resolved"},
    )


def test_resolving_a_conversation_sends_the_channels_survey_link_once(
    client, tenant, conversation, scheduled, django_capture_on_commit_callbacks
):
    # given the channel asks a web survey of resolved conversations
    survey = csat_survey(tenant)
    ChannelSurvey.objects.create(tenant=tenant, channel=conversation.channel, survey=survey)

    # when the conversation is resolved
    with django_capture_on_commit_callbacks(execute=True):
        conversation_set_status(conversation=conversation, status="resolved", actor=None)

    # then one automatic message carries a link, in the contact's language (the tenant's: da)
    message = Message.objects.get(direction=MessageDirection.OUTBOUND)
    assert message.conversation == conversation
    assert "auto_reply" in message.flags
    assert message.text.startswith("Tak for din henvendelse.")
    invitation = SurveyInvitation.objects.get()
    assert (invitation.survey, invitation.conversation, invitation.message_id) == (
        survey,
        conversation,
        message.pk,
    )
    # and the link opens the survey; answering links the response to the conversation
    path = re.search(r"https?://[^/]+(/s/[^\s]+/)", message.text).group(1)
    assert client.get(path).status_code == 200
    client.post(path, {"step": "csat", "value": "5"})
    response = SurveyResponse.objects.get()
    assert (response.conversation, response.contact, response.link_nonce) == (
        conversation,
        conversation.contact,
        invitation.nonce,
    )

    # when the same resolution is delivered again, nothing more is sent
    on_event(resolved(conversation))
    assert Message.objects.filter(direction=MessageDirection.OUTBOUND).count() == 1


def test_no_link_without_an_active_channel_setting(tenant, conversation, scheduled):
    survey = csat_survey(tenant)
    on_event(resolved(conversation))
    ChannelSurvey.objects.create(
        tenant=tenant, channel=conversation.channel, survey=survey, is_active=False
    )
    on_event(resolved(conversation))
    assert not Message.objects.filter(direction=MessageDirection.OUTBOUND).exists()
    assert not SurveyInvitation.objects.exists()


def test_a_custom_message_places_the_link(tenant, conversation, scheduled):
    survey = csat_survey(tenant)
    ChannelSurvey.objects.create(
        tenant=tenant,
        channel=conversation.channel,
        survey=survey,
        message="Hvordan gik det? {link} - Nordlys",
    )
    on_event(resolved(conversation))
    text = Message.objects.get(direction=MessageDirection.OUTBOUND).text
    assert re.fullmatch(r"Hvordan gik det\? http\S+/s/\S+/ - Nordlys", text)
