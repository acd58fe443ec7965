"""In a real browser: an agent goes available, an offer arrives live, the agent accepts it, a
ticket assigned to them appears live and opens the contact panel; the supervisor's wallboard
follows along without a reload."""

from __future__ import annotations

import time

import pytest
from django.db import connections

from crm.models import Role, TicketPriority, WorkItem
from crm.services.routing import work_item_enqueue
from crm.services.tickets import ticket_create
from crm.services.timeline import timeline_add
from telephony.services.common import agent_identity
from telephony.simulator import softphone
from tests.browser.conftest import PASSWORD, set_real_password
from tests.conftest import member
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    ContactIdentityFactory,
    QueueFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT_MS = 5000


def _log_in(context, base_url: str, username: str, next_path: str):
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")
    # Live from here on; the marker proves later changes arrived without a reload.
    page.wait_for_selector("#live-status[data-state=live]", timeout=LIVE_TIMEOUT_MS)
    page.evaluate("window.__noReload = true")
    return page


def test_offer_arrives_live_is_accepted_and_the_wallboard_follows(
    tenant, asgi_server, browser, shots
):
    # given an agent of a queue and a supervisor, both with real passwords
    queue = QueueFactory(tenant=tenant, name="Support")
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(username="alma"))
    supervisor = member(tenant, Role.SUPERVISOR, user=UserFactory(username="sven"))
    set_real_password(agent.user)
    set_real_password(supervisor)

    agent_context = browser.new_context(viewport={"width": 1400, "height": 900})
    supervisor_context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        board = _log_in(supervisor_context, asgi_server.url, "sven", "/supervisor/")
        agent_row = board.locator(f'tr[data-agent="{agent.pk}"] [data-testid=agent-state]')
        assert agent_row.inner_text() == "Offline"
        shots(board, "wallboard-agent-offline")

        page = _log_in(agent_context, asgi_server.url, "alma", "/agent/")
        assert page.locator("[data-testid=presence-now]").inner_text() == "Offline"
        shots(page, "agent-logged-in")

        # when the agent goes available
        page.click("button[name=presence][value=available]")

        # then their page and, live, the supervisor's wallboard say so
        page.wait_for_selector(".presence-available", timeout=LIVE_TIMEOUT_MS)
        shots(page, "agent-available")
        board.wait_for_function(
            f"""document.querySelector('tr[data-agent="{agent.pk}"] [data-testid=agent-state]')
                .textContent.trim() === 'Available'""",
            timeout=LIVE_TIMEOUT_MS,
        )
        shots(board, "wallboard-agent-available")

        # when a call is enqueued (the routing engine offers it to the free agent)
        item = work_item_enqueue(
            tenant_id=tenant.pk, queue=queue, kind="call", channel_kind="voice"
        )

        # then the offer appears without a reload, with its countdown
        offer = page.wait_for_selector("[data-testid=offers] .offer", timeout=LIVE_TIMEOUT_MS)
        assert "Support" in offer.inner_text()
        page.wait_for_function(
            "/^\\d+:\\d\\d$/.test(document.querySelector('.countdown').textContent)"
        )
        shots(page, "offer-arrived")

        # when the agent accepts it
        page.click("[data-testid=offers] .offer button.btn-go")

        # then it moves to their assigned work, and the routing engine agrees
        page.wait_for_selector(
            f'[data-testid=assigned] [data-work-item="{item.pk}"]', timeout=LIVE_TIMEOUT_MS
        )
        assert page.locator("[data-testid=offers] .offer").count() == 0
        shots(page, "offer-accepted")
        item.refresh_from_db()
        assert item.status == WorkItem.Status.ASSIGNED
        assert item.agent_id == agent.pk
        board.wait_for_function(
            f"""document.querySelector('tr[data-queue="{queue.pk}"] td:last-child')
                .textContent.trim() === '1'""",
            timeout=LIVE_TIMEOUT_MS,
        )
        shots(board, "wallboard-call-in-progress")

        # when a ticket is opened for the agent elsewhere (the API, a colleague)
        contact = ContactFactory(tenant=tenant, first_name="Ingrid", last_name="Berg")
        ContactIdentityFactory(contact=contact, value="+4520123456")
        timeline_add(
            tenant_id=tenant.pk, contact=contact, kind="call", summary="Called about a bill"
        )
        ticket = ticket_create(
            tenant=tenant,
            actor=None,
            subject="Invoice looks too high",
            contact=contact,
            priority=TicketPriority.HIGH,
            assignee=agent.user,
        )

        # then it appears in their list live, and opens the contact panel with the timeline
        row = page.wait_for_selector(
            f'[data-testid=tickets] [data-ticket="{ticket.pk}"]', timeout=LIVE_TIMEOUT_MS
        )
        row.query_selector("button").click()
        page.wait_for_selector(f'#contact-panel [data-contact="{contact.pk}"]')
        panel = page.locator("#contact-panel").inner_text()
        assert "Ingrid Berg" in panel
        assert "+4520123456" in panel
        assert "Called about a bill" in panel
        shots(page, "contact-panel")

        # when a simulated call rings the agent's softphone (simulator mode)
        softphone.leg_announce(
            identity=agent_identity(agent.user_id),
            leg_sid="CLbrowser1",
            call_sid="CAbrowser1",
            from_="+4520123456",
            state="ringing",
        )

        # then it shows with answer and reject, and answering hands the decision to the call
        leg = page.wait_for_selector('#softphone-legs [data-leg="CLbrowser1"]')
        assert "+4520123456" in leg.inner_text()
        shots(page, "softphone-ringing")
        leg.query_selector("button[data-action=accept]").click()
        deadline = time.monotonic() + 5
        decision = None
        while decision is None and time.monotonic() < deadline:
            decision = softphone.pop_decision("CLbrowser1")
            time.sleep(0.05)
        assert decision == "accept"
        softphone.leg_remove(identity=agent_identity(agent.user_id), leg_sid="CLbrowser1")

        # and neither page was reloaded along the way
        assert page.evaluate("window.__noReload") is True
        assert board.evaluate("window.__noReload") is True
    finally:
        agent_context.close()
        supervisor_context.close()
        # This body ran beside Playwright's event loop, so Django gave it a connection of its
        # own; close it, or the test database cannot be dropped at the end of the session.
        connections.close_all()


def test_the_page_reconnects_after_a_server_restart_and_catches_up(
    tenant, asgi_server, browser, shots
):
    # given an available agent with the workspace open
    queue = QueueFactory(tenant=tenant, name="Support")
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(username="alma"))
    set_real_password(agent.user)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = _log_in(context, asgi_server.url, "alma", "/agent/")
        page.click("button[name=presence][value=available]")
        page.wait_for_selector(".presence-available", timeout=LIVE_TIMEOUT_MS)

        # when the server goes down, an offer is made while it is down, and it comes back
        asgi_server.stop()
        page.wait_for_selector("#live-status[data-state=offline]", timeout=LIVE_TIMEOUT_MS)
        shots(page, "server-down")
        item = work_item_enqueue(
            tenant_id=tenant.pk, queue=queue, kind="call", channel_kind="voice"
        )
        asgi_server.start()

        # then the page reconnects by itself and shows the offer it missed, without a reload
        page.wait_for_selector("#live-status[data-state=live]", timeout=20000)
        page.wait_for_selector(
            f'[data-testid=offers] [data-offer="{item.offers.get().pk}"]', timeout=LIVE_TIMEOUT_MS
        )
        shots(page, "reconnected-offer-shown")
        assert page.evaluate("window.__noReload") is True
    finally:
        context.close()
        connections.close_all()  # see the first test
