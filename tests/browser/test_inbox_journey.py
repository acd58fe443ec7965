"""In a real browser: an inbound email is offered live to the agent, who accepts it, opens the
conversation, replies, and the reply reaches a real SMTP server (aiosmtpd) and shows as sent
without a reload. Screenshots of each step go to artifacts/browser/."""

from __future__ import annotations

import time

import pytest
from django.db import connections

from channels_inbox.email.ingest import email_ingest
from channels_inbox.models import Channel, Conversation, InboxKind, Message
from crm.models import ChannelKind, Presence
from tests.browser.conftest import PASSWORD, set_real_password
from tests.channels_inbox import mailservers
from tests.crm.factories import AgentProfileFactory, QueueFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

smtp_server = mailservers.smtp_server

LIVE_TIMEOUT_MS = 5000

INBOUND = (
    b"From: Ingrid Berg <ingrid@kunde.example>\r\n"
    b"To: kundeservice@nordlys.example\r\n"
    b"Subject: =?utf-8?q?Min_regning_er_for_h=C3=B8j?=\r\n"
    b"Message-ID: <journey-1@kunde.example>\r\n"
    b"Date: Sun, 22 Nov 2026 09:00:00 +0100\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Hej, min regning for oktober er alt for h\xc3\xb8j. Kan I se p\xc3\xa5 det?\r\n"
)


def _log_in(context, base_url: str, username: str, next_path: str):
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")
    page.wait_for_selector("#live-status[data-state=live]", timeout=LIVE_TIMEOUT_MS)
    # Survives only as long as the page is not reloaded: proves the updates came live.
    page.evaluate("window.__noReload = true")
    return page


def test_inbound_email_is_offered_live_answered_and_the_reply_is_sent(
    tenant, asgi_server, celery_worker_process, browser, shots, smtp_server
):
    # given an email channel sending through a real SMTP server, and an available agent
    queue = QueueFactory(
        tenant=tenant, name="Kundeservice", channel_kinds=[ChannelKind.EMAIL, ChannelKind.CHAT]
    )
    channel = Channel.objects.create(
        tenant=tenant,
        queue=queue,
        kind=InboxKind.EMAIL,
        name="Kundeservice",
        address="kundeservice@nordlys.example",
        **smtp_server.channel_fields(),
    )
    agent = AgentProfileFactory(
        tenant=tenant, user=UserFactory(username="alma", first_name="Alma", last_name="Holm")
    )
    agent.queues.add(queue)
    set_real_password(agent.user)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = _log_in(context, asgi_server.url, "alma", "/agent/")
    page.click("button[name=presence][value=available]")
    page.wait_for_selector(".presence-available", timeout=LIVE_TIMEOUT_MS)
    agent.refresh_from_db()
    assert agent.presence == Presence.AVAILABLE
    shots(page, "agent-available")

    # when an email arrives (as the /hooks/email/<token>/ hook or IMAP polling would hand it in)
    received = email_ingest(channel=channel, raw=INBOUND)
    conversation = received.conversation

    # then it is offered to the agent live, showing who wrote and about what
    offer = page.wait_for_selector("[data-testid=offers] .offer", timeout=LIVE_TIMEOUT_MS)
    assert "Ingrid Berg" in offer.inner_text()
    assert "Min regning er for høj" in offer.inner_text()
    shots(page, "email-offered")

    # when the agent accepts it
    page.click("[data-testid=offers] .offer button.btn-go")

    # then it is among their conversations, and they are its assignee
    row_selector = f'[data-testid=conversations] [data-conversation="{conversation.pk}"]'
    page.wait_for_selector(row_selector, timeout=LIVE_TIMEOUT_MS)
    conversation.refresh_from_db()
    assert conversation.assignee_id == agent.user_id
    shots(page, "conversation-in-list")

    # when they open it
    # (a locator, found again at click time: the live list may have re-rendered meanwhile)
    page.locator(f"{row_selector} a").first.click()
    page.wait_for_url(
        f"{asgi_server.url}/agent/conversations/{conversation.pk}/?tenant={tenant.pk}"
    )
    page.wait_for_selector("#live-status[data-state=live]", timeout=LIVE_TIMEOUT_MS)
    page.evaluate("window.__noReload = true")
    thread = page.locator("#thread").inner_text()
    assert "min regning for oktober er alt for høj" in thread
    assert page.input_value("input[name=subject]") == "Re: Min regning er for høj"
    shots(page, "conversation-open")

    # when they write a reply and send it
    page.fill("[data-testid=composer-text]", "Hej Ingrid. Vi har rettet regningen. Mvh Alma")
    page.click("[data-testid=composer-send]")

    # then the reply is in the thread, queued for sending, and the composer is empty again
    page.wait_for_selector(".msg-outbound [data-testid=message-status]", timeout=LIVE_TIMEOUT_MS)
    assert page.input_value("[data-testid=composer-text]") == ""
    reply = Message.objects.get(conversation=conversation, direction="outbound")
    assert reply.author_id == agent.user_id
    shots(page, "reply-queued")

    # then the Celery worker sends it: the SMTP server gets it, threaded to the customer's mail
    deadline = time.monotonic() + 20  # the worker may still be warming up
    while not smtp_server.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert mail.rcpt_tos == ["ingrid@kunde.example"]
    assert mail.message["In-Reply-To"] == "<journey-1@kunde.example>"
    assert "Vi har rettet regningen" in mail.message.get_content()
    # and the page shows it as sent, live
    page.wait_for_function(
        """[...document.querySelectorAll('.msg-outbound [data-testid=message-status]')]
            .some(el => el.textContent.trim() === 'Sent')""",
        timeout=LIVE_TIMEOUT_MS,
    )
    assert page.evaluate("window.__noReload") is True
    shots(page, "reply-sent")

    # when the agent resolves the conversation
    page.click("[data-action=resolve]")
    page.wait_for_selector("[data-action=reopen]", timeout=LIVE_TIMEOUT_MS)
    conversation.refresh_from_db()
    assert conversation.status == "resolved"
    assert (
        not page.locator(
            f'[data-testid=conversations] [data-conversation="{conversation.pk}"]'
        ).count()
        or Conversation.objects.get(pk=conversation.pk).status == "resolved"
    )
    shots(page, "resolved")
    context.close()
    # This body ran beside Playwright's event loop, so Django gave it a connection of its own;
    # close it, or the test database cannot be dropped at the end of the session.
    connections.close_all()


def test_sms_composer_counts_segments_and_expands_canned_responses(
    tenant, asgi_server, browser, shots
):
    # given an SMS conversation of the agent's and a canned response with placeholders
    from channels_inbox.models import CannedResponse
    from tests.crm.factories import ContactFactory
    from tests.workspace.inbox_fixtures import channel, conversation

    queue = QueueFactory(tenant=tenant, name="SMS", channel_kinds=[ChannelKind.CHAT])
    sms = channel(tenant, queue, kind=InboxKind.SMS, address="+4570100200")
    agent = AgentProfileFactory(
        tenant=tenant, user=UserFactory(username="bo", first_name="Bo", last_name="Dahl")
    )
    set_real_password(agent.user)
    contact = ContactFactory(tenant=tenant, first_name="Łucja", last_name="Nowak")
    conv = conversation(sms, contact=contact, assignee=agent.user, subject="")
    CannedResponse.objects.create(
        tenant=tenant,
        title="Thanks",
        shortcut="tak",
        body="Hej {contact.first_name}! /{agent.name}",
    )
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = _log_in(context, asgi_server.url, "bo", f"/agent/conversations/{conv.pk}/")

    # when the agent types plain GSM text, the counter says one GSM-7 segment
    box = page.locator("[data-testid=composer-text]")
    box.fill("a" * 161)
    assert "161 / 306 · GSM-7 · 2" in page.inner_text("[data-sms-counter]")

    # when they type a shortcut, it becomes the canned text with the contact's name, and the
    # Polish letter switches the count to UCS-2
    box.fill("")
    box.press_sequentially("/tak ")
    assert box.input_value() == "Hej Łucja! /Bo Dahl"
    assert "UCS-2 · 1" in page.inner_text("[data-sms-counter]")
    shots(page, "sms-composer")

    # and an internal note hides what only replies have
    page.check("input[name=mode][value=note]")
    assert page.locator("[data-sms-counter]").is_hidden()
    context.close()
    # This body ran beside Playwright's event loop, so Django gave it a connection of its own;
    # close it, or the test database cannot be dropped at the end of the session.
    connections.close_all()
