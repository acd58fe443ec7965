"""In a real browser: an agent goes available, an offer arrives live, the agent accepts it, a
ticket assigned to them appears live and opens the contact panel; the supervisor's wallboard
follows along without a reload. And the voice journey: a simulated call rings the agent's
softphone (with the caller's record popped), the agent answers, hangs up, sets a disposition,
and the call is on the contact's timeline."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from crm.models import (
    ChannelKind,
    Offer,
    Presence,
    Role,
    TicketPriority,
    TimelineEntry,
    WorkItem,
)
from crm.services.routing import work_item_enqueue
from crm.services.tickets import ticket_create
from crm.services.timeline import timeline_add
from telephony.models import Call, CallEvent, DispositionCode, PhoneNumber
from telephony.services.common import agent_identity
from telephony.simulator import CallScript, HttpTransport, RealClock, SimulatedCall, softphone
from telephony.tasks import ring_agent
from tests.browser import conftest as browser_conftest
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


HOTLINE = "+4570100100"
CALLER = "+4520304050"
CALL_TIMEOUT_MS = 20000


def _ring_pending_offers(call: SimulatedCall) -> None:
    """What the Celery worker does meanwhile: ring the agent each pending offer went to (the
    task itself, called directly in the simulated call's thread; it rings once per offer)."""
    row = Call.objects.filter(sid=call.call_sid).first()
    if row is not None and row.work_item_id is not None:
        for offer_id in Offer.objects.filter(
            work_item_id=row.work_item_id, status=Offer.Status.PENDING
        ).values_list("pk", flat=True):
            ring_agent(call_id=row.pk, offer_id=offer_id)
    connections.close_all()  # this thread's own connection, or the test database stays busy


def test_a_simulated_call_is_answered_hung_up_and_wrapped_up_in_the_softphone(
    tenant, asgi_server, browser, shots
):
    # given a hotline that queues callers for Support, a known caller and an agent
    queue = QueueFactory(tenant=tenant, name="Support", channel_kinds=[ChannelKind.VOICE])
    PhoneNumber.objects.create(tenant=tenant, number=HOTLINE, name="Hotline", entry_queue=queue)
    DispositionCode.objects.create(tenant=tenant, code="resolved", label="Resolved")
    contact = ContactFactory(tenant=tenant, first_name="Ingrid", last_name="Berg")
    ContactIdentityFactory(contact=contact, value=CALLER)
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(username="alma"))
    set_real_password(agent.user)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    caller: threading.Thread | None = None
    try:
        page = _log_in(context, asgi_server.url, "alma", "/agent/")
        page.wait_for_selector('#softphone-call[data-state="idle"]', timeout=LIVE_TIMEOUT_MS)

        # when the agent goes available and the caller rings (the simulated Twilio posts the
        # real, signed webhooks to the server; the agent's leg is left to the browser)
        page.click("button[name=presence][value=available]")
        page.wait_for_selector(".presence-available", timeout=LIVE_TIMEOUT_MS)
        shots(page, "voice-agent-available")
        simulated = SimulatedCall(
            transport=HttpTransport(connect_to=asgi_server.url),
            to=HOTLINE,
            from_=CALLER,
            script=CallScript(
                agent_in_browser=True, hangup_after=120, on_wait=_ring_pending_offers
            ),
            clock=RealClock(),
        )
        caller = threading.Thread(target=simulated.run, daemon=True)
        caller.start()

        # then the softphone rings with the caller's name, and their record pops up
        page.wait_for_selector('#softphone-call[data-state="ringing"]', timeout=CALL_TIMEOUT_MS)
        assert "Ingrid Berg" in page.locator("#softphone-call").inner_text()
        page.wait_for_selector(f'#contact-panel [data-contact="{contact.pk}"]')
        shots(page, "voice-ringing-screen-pop")

        # when the agent answers
        page.click('#softphone-call [data-softphone="accept"]')

        # then they are connected to the caller, with the in-call buttons
        page.wait_for_selector('#softphone-call[data-state="connected"]', timeout=CALL_TIMEOUT_MS)
        assert page.locator('#softphone-call [data-softphone="hangup"]').is_visible()
        shots(page, "voice-connected")

        # when they put the caller on hold, resume, and mute (htmx buttons of the panel)
        page.click("#softphone-call button[hx-post$='/hold/']")
        page.wait_for_selector("#softphone-call button[hx-post$='/resume/']")
        assert "On hold" in page.locator("#softphone-call .sp-state").inner_text()
        shots(page, "voice-on-hold")
        page.click("#softphone-call button[hx-post$='/resume/']")
        page.wait_for_selector("#softphone-call button[hx-post$='/hold/']")
        page.click('#softphone-call [data-softphone="mute"]')
        page.wait_for_selector('#softphone-call [data-softphone="mute"][aria-pressed="true"]')

        # then the call's history has them
        kinds = set(
            CallEvent.objects.filter(call__sid=simulated.call_sid).values_list("kind", flat=True)
        )
        assert {"hold", "resume"} <= kinds

        # when they hang up
        page.click('#softphone-call [data-softphone="hangup"]')

        # then the call ends and the wrap-up form asks for a disposition
        page.wait_for_selector('#softphone-call[data-state="wrapup"]', timeout=CALL_TIMEOUT_MS)
        shots(page, "voice-wrapup")

        # when they choose one and finish the wrap-up
        page.select_option("#softphone-call select[name=disposition]", "resolved")
        page.fill("#softphone-call textarea[name=note]", "Explained the bill")
        page.click("#softphone-call .sp-wrapup button[type=submit]")

        # then the softphone is idle again and the call is on the contact's timeline
        page.wait_for_selector('#softphone-call[data-state="idle"]', timeout=LIVE_TIMEOUT_MS)
        call = Call.objects.get(sid=simulated.call_sid)
        assert call.disposition.code == "resolved"
        assert call.agent_id == agent.pk
        assert TimelineEntry.objects.filter(contact=contact, kind="call.wrapped_up").exists()
        page.wait_for_function(
            "document.querySelector('#contact-panel .timeline').textContent"
            ".includes('call.wrapped_up')",
            timeout=LIVE_TIMEOUT_MS,
        )
        assert "Resolved" in page.locator("#contact-panel .timeline").inner_text()
        shots(page, "voice-on-the-timeline")
        assert page.evaluate("window.__noReload") is True
    finally:
        if caller is not None:
            caller.join(timeout=30)
        context.close()
        connections.close_all()


# A stand-in for the Twilio Voice JS SDK (no network, no audio): the page's softphone.js finds
# `Twilio.Device` already defined and drives it; every call it makes on the SDK is logged.
FAKE_VOICE_SDK = """
window.__sdk = { log: [], handlers: {} };
function FakeCall() {
  var handlers = {};
  this.parameters = { From: "+4520304050" };
  this.on = function (name, fn) { handlers[name] = fn; };
  this.accept = function () { window.__sdk.log.push("accept"); };
  this.reject = function () { window.__sdk.log.push("reject"); };
  this.disconnect = function () {
    window.__sdk.log.push("disconnect");
    if (handlers.disconnect) handlers.disconnect();
  };
  this.mute = function (on) { window.__sdk.log.push("mute:" + on); };
  this.sendDigits = function (d) { window.__sdk.log.push("digits:" + d); };
}
window.Twilio = { Device: function (token, options) {
  window.__sdk.log.push(token ? "device" : "device-without-token");
  this.on = function (name, fn) { window.__sdk.handlers[name] = fn; };
  this.register = function () {
    window.__sdk.log.push("register");
    setTimeout(function () { window.__sdk.handlers.registered(); }, 10);
    return Promise.resolve();
  };
  this.updateToken = function () {};
} };
window.__sdk.ring = function () { window.__sdk.handlers.incoming(new FakeCall()); };
"""


@pytest.fixture
def twilio_mode_server(transactional_db, monkeypatch):
    """Daphne with (made-up) Twilio credentials: the softphone runs in Twilio mode. Nothing
    here reaches Twilio — the browser test replaces the Voice SDK, and no REST call is made."""
    for name, value in {
        "TWILIO_ACCOUNT_SID": "AC" + "7" * 32,
        "TWILIO_AUTH_TOKEN": "browser-test-token",
        "TWILIO_API_KEY_SID": "SK" + "7" * 32,
        "TWILIO_API_KEY_SECRET": "browser-test-secret",
        "TWILIO_TWIML_APP_SID": "AP" + "7" * 32,
    }.items():
        monkeypatch.setenv(name, value)
    browser_conftest.flush_live_state()
    server = browser_conftest.AsgiServer()
    server.start()
    yield server
    server.stop()
    browser_conftest._wait_for_sessions_to_end()
    browser_conftest.flush_live_state()


def test_in_twilio_mode_the_softphone_drives_the_voice_sdk(
    tenant, twilio_mode_server, browser, shots
):
    # given an available agent offered a call whose caller is known
    queue = QueueFactory(tenant=tenant, name="Support", channel_kinds=[ChannelKind.VOICE])
    contact = ContactFactory(tenant=tenant, first_name="Ingrid", last_name="Berg")
    ContactIdentityFactory(contact=contact, value=CALLER)
    agent = AgentProfileFactory(
        tenant=tenant, user=UserFactory(username="alma"), presence=Presence.AVAILABLE
    )
    set_real_password(agent.user)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(FAKE_VOICE_SDK)
    try:
        page = _log_in(context, twilio_mode_server.url, "alma", "/agent/")

        # then the softphone registered a Device with the app's token
        page.wait_for_function("window.__sdk.log.includes('register')", timeout=LIVE_TIMEOUT_MS)
        assert page.evaluate("window.__sdk.log[0]") == "device"
        assert page.locator(".sp-mode").inner_text() == "Twilio"
        page.wait_for_function(
            "document.getElementById('softphone-device').textContent.includes('Ready')"
        )

        # when the routing engine rings the agent and the SDK reports the incoming call
        item = work_item_enqueue(
            tenant_id=tenant.pk, queue=queue, kind="call", channel_kind="voice"
        )
        offer = Offer.objects.get(work_item=item, agent=agent)
        call = Call.objects.create(
            tenant=tenant,
            sid="CA" + "1" * 32,
            direction="inbound",
            from_number=CALLER,
            to_number=HOTLINE,
            contact=contact,
            queue=queue,
            work_item=item,
            ringing_offer_id=offer.pk,
            status="in-progress",
        )
        page.evaluate("window.__sdk.ring()")

        # then the softphone rings with the caller, and Answer accepts the SDK's call
        page.wait_for_selector('#softphone-call[data-state="ringing"]', timeout=LIVE_TIMEOUT_MS)
        page.wait_for_selector(f'#contact-panel [data-contact="{contact.pk}"]')
        shots(page, "twilio-mode-ringing")
        page.click('#softphone-call [data-softphone="accept"]')
        page.wait_for_function("window.__sdk.log.includes('accept')")

        # when the provider reports the answer, mute, the keypad and hang-up go to the SDK
        Call.objects.filter(pk=call.pk).update(answered_at=call.started_at, agent=agent)
        page.evaluate("window.ccSoftphone.refresh()")
        page.wait_for_selector('#softphone-call[data-state="connected"]', timeout=LIVE_TIMEOUT_MS)
        page.click('#softphone-call [data-softphone="mute"]')
        page.wait_for_function("window.__sdk.log.includes('mute:true')")
        page.click("#softphone-call .sp-keypad summary")
        page.click('#softphone-call [data-digit="5"]')
        page.wait_for_function("window.__sdk.log.includes('digits:5')")
        assert page.locator("#softphone-call .sp-digits").inner_text() == "5"
        shots(page, "twilio-mode-connected")
        page.click('#softphone-call [data-softphone="hangup"]')
        page.wait_for_function("window.__sdk.log.includes('disconnect')")

        # when the agent is rung outside the routing engine (a transfer to them, a resume)
        page.evaluate("window.__sdk.ring()")

        # then the Device's own line offers Answer, and it accepts the SDK's call
        page.click('#softphone-device [data-softphone="accept"]')
        page.wait_for_function("window.__sdk.log.filter(e => e === 'accept').length === 2")
        assert "Ready" in page.locator("#softphone-device").inner_text()

        # and the mute is in the call's history
        deadline = time.monotonic() + 5
        while not CallEvent.objects.filter(call=call, kind="mute").exists():
            assert time.monotonic() < deadline, "the mute was not recorded"
            time.sleep(0.1)
    finally:
        context.close()
        connections.close_all()
