"""In a real browser: the supervisor's wallboard follows a simulated call through the real
Twilio webhooks (waiting, answered, ended) and an inbound email (unassigned, then reassigned by
the supervisor) without a reload; changing an agent's presence from the wallboard reaches the
agent's own page; after a server restart the wallboard reconnects and catches up.

The call and the email enter through the same code as in production (signed webhooks through
Django's test client; the email parser), in this test process; their events travel through
Redis to the Daphne the browser is connected to. Screenshots: artifacts/browser/<test name>/.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.db import connections

from channels_inbox.email.ingest import email_ingest
from channels_inbox.models import Channel
from crm.models import Presence, Role
from crm.services.presence import agent_set_presence
from telephony.models import Call
from telephony.simulator import CallScript, DjangoClientTransport, SimulatedCall
from tests.browser.conftest import PASSWORD, set_real_password
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, UserFactory
from tests.telephony import simulator_support
from tests.telephony.conftest import CALLER, NUMBER, main_menu, phone_number, support_queue
from tests.telephony.test_simulator_e2e import run_ring_tasks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Fixtures borrowed from the telephony tests: the hotline whose menu's 1 leads to "Support".
__all__ = ["main_menu", "phone_number", "support_queue"]
clean_rest_log = simulator_support.clean_rest_log

LIVE_TIMEOUT_MS = 5000


def log_in(context, base_url: str, username: str, next_path: str):
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")
    page.wait_for_selector("#live-status[data-state=live]", timeout=LIVE_TIMEOUT_MS)
    # Set once; a reload would lose it, so its presence at the end proves there was none.
    page.evaluate("window.__noReload = true")
    return page


def wait_for_text(page, selector: str, text: str, timeout: int = LIVE_TIMEOUT_MS) -> None:
    page.wait_for_function(
        """([selector, text]) => {
            const el = document.querySelector(selector);
            return el !== null && el.textContent.trim() === text;
        }""",
        arg=[selector, text],
        timeout=timeout,
    )


def email(subject: str, sender: str = "kunde@example.com") -> bytes:
    message = EmailMessage()
    message["From"] = f"Karen Kunde <{sender}>"
    message["To"] = "help@nordlys.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash(subject))}@example.com>"
    message.set_content("My meter shows the wrong reading. Can you help?")
    return bytes(message)


def test_wallboard_follows_a_call_and_an_email_live(
    tenant, support_queue, phone_number, clean_rest_log, asgi_server, browser, shots
):
    # given a supervisor on the wallboard and an agent who is not yet available
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(username="alma"))
    agent.queues.add(support_queue)
    supervisor = member(tenant, Role.SUPERVISOR, user=UserFactory(username="sven"))
    set_real_password(supervisor)
    context = browser.new_context(viewport={"width": 1600, "height": 1100})
    try:
        board = log_in(context, asgi_server.url, "sven", "/supervisor/")
        assert board.locator("[data-testid=waiting]").inner_text() == "0"
        shots(board, "wallboard-quiet")

        # when a caller rings the hotline, presses 1 and waits in the queue ...
        seen = {"waiting": False, "talking": False}

        def meanwhile(call: SimulatedCall) -> None:
            row = Call.objects.filter(sid=call.call_sid).first()
            if row is None:
                return
            if row.work_item_id and not seen["waiting"]:
                # ... then the wallboard shows them waiting, live, with a running clock
                wait_for_text(board, "[data-testid=waiting]", "1")
                wait_for_text(
                    board, f'tr[data-queue="{support_queue.pk}"] [data-testid=queue-waiting]', "1"
                )
                board.wait_for_selector("[data-testid=longest-wait]")
                board.wait_for_selector("#sv-volume rect.bar-calls", timeout=LIVE_TIMEOUT_MS)
                shots(board, "call-waiting")
                seen["waiting"] = True
                # and when the agent becomes available, the call is offered and rings them
                agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
            elif row.answered_at and not seen["talking"]:
                # ... then the wallboard shows the agent on the call and nobody waiting
                board.wait_for_selector(
                    f'tr[data-agent="{agent.pk}"] [data-call="{row.pk}"]', timeout=LIVE_TIMEOUT_MS
                )
                wait_for_text(board, "[data-testid=waiting]", "0")
                shots(board, "call-answered")
                seen["talking"] = True
            run_ring_tasks(call)

        script = CallScript(presses=["1"], ring_seconds=3, talk_seconds=40, on_wait=meanwhile)
        result = SimulatedCall(
            transport=DjangoClientTransport(), to=NUMBER, from_=CALLER, script=script
        ).run()

        assert result.status == "completed"
        assert seen == {"waiting": True, "talking": True}
        # then, once it ended, today's figures count it: answered within the threshold
        board.wait_for_function(
            "document.querySelector('[data-testid=service-level]').textContent.trim() === '100 %'",
            timeout=LIVE_TIMEOUT_MS,
        )
        wait_for_text(board, f'tr[data-queue="{support_queue.pk}"] [data-testid=queue-calls]', "1")
        assert board.locator("#sv-volume rect.bar-calls").count() == 1
        shots(board, "call-ended")

        # when an email arrives and nobody is free to take it (the agent is wrapping up)
        agent_set_presence(agent=agent, presence=Presence.BREAK, reason="Coffee")
        support_queue.channel_kinds = ["voice", "email"]
        support_queue.save(update_fields=["channel_kinds"])
        channel = Channel.objects.create(
            tenant=tenant, kind="email", name="Help", address="help@nordlys.example",
            queue=support_queue,
        )  # fmt: skip
        received = email_ingest(channel=channel, raw=email("Wrong meter reading"))

        # then it shows live as an unassigned conversation, and on the volume chart
        conversation = received.conversation
        board.wait_for_selector(f'[data-conversation="{conversation.pk}"]', timeout=LIVE_TIMEOUT_MS)
        wait_for_text(board, "[data-testid=unassigned-conversations]", "1")
        board.wait_for_selector("#sv-volume rect.bar-messages", timeout=LIVE_TIMEOUT_MS)
        shots(board, "email-unassigned")

        # when the supervisor gives it to the agent from the wallboard
        row = board.locator(f'[data-conversation="{conversation.pk}"]')
        row.locator("select[name=assignee]").select_option(str(agent.pk))
        row.locator("button[type=submit]").click()

        # then it leaves the list, the headline follows, and the agent holds it
        board.wait_for_selector(
            f'[data-conversation="{conversation.pk}"]', state="detached", timeout=LIVE_TIMEOUT_MS
        )
        wait_for_text(board, "[data-testid=unassigned-conversations]", "0")
        board.wait_for_function(
            f"""document.querySelector('tr[data-agent="{agent.pk}"] [data-testid=agent-work]')
                .textContent.includes('1 conversation')""",
            timeout=LIVE_TIMEOUT_MS,
        )
        conversation.refresh_from_db()
        assert conversation.assignee_id == agent.user_id
        shots(board, "email-assigned")
        assert board.evaluate("window.__noReload") is True
    finally:
        context.close()
        connections.close_all()


def test_supervisor_changes_an_agents_presence_and_the_agents_page_hears_it(
    tenant, asgi_server, browser, shots
):
    # given an available agent with the workspace open, and the supervisor's wallboard
    agent = AgentProfileFactory(
        tenant=tenant, user=UserFactory(username="alma"), works_remotely=True
    )
    agent_set_presence(agent=agent, presence=Presence.AVAILABLE)
    supervisor = member(tenant, Role.SUPERVISOR, user=UserFactory(username="sven"))
    set_real_password(agent.user)
    set_real_password(supervisor)
    agent_context = browser.new_context(viewport={"width": 1400, "height": 900})
    supervisor_context = browser.new_context(viewport={"width": 1600, "height": 1100})
    try:
        page = log_in(agent_context, asgi_server.url, "alma", "/agent/")
        page.evaluate(
            """window.__heard = [];
               document.addEventListener('live:event', (e) => window.__heard.push(e.detail));"""
        )
        board = log_in(supervisor_context, asgi_server.url, "sven", "/supervisor/")

        # when the supervisor puts the agent on a break for coaching
        row = board.locator(f'tr[data-agent="{agent.pk}"]')
        row.locator("select[name=presence]").select_option("break")
        row.locator("input[name=reason]").fill("Coaching")
        row.locator("button[type=submit]").click()

        # then the wallboard shows it, the remote agents' log names the supervisor ...
        wait_for_text(board, f'tr[data-agent="{agent.pk}"] [data-testid=agent-state]', "Break")
        board.wait_for_function(
            "document.querySelector('#sv-log [data-testid=changed-by]')"
            ".textContent.trim() === 'sven' || "
            "document.querySelector('#sv-log [data-testid=changed-by]')"
            f".textContent.trim() === '{supervisor.get_full_name()}'",
            timeout=LIVE_TIMEOUT_MS,
        )
        shots(board, "presence-changed-by-supervisor")
        # ... and the agent's own page is told, live
        page.wait_for_function(
            """window.__heard.some((m) => m.event === 'agent.status_changed'
                 && m.data.presence === 'break' && m.data.reason === 'Coaching')""",
            timeout=LIVE_TIMEOUT_MS,
        )
        shots(page, "agent-page-after-the-change")
        assert page.evaluate("window.__noReload") is True
    finally:
        agent_context.close()
        supervisor_context.close()
        connections.close_all()


def test_wallboard_reconnects_after_a_drop_and_a_restart_and_catches_up(
    tenant, support_queue, asgi_server, browser, shots
):
    from crm.services.routing import work_item_enqueue

    # given the wallboard, live
    supervisor = member(tenant, Role.SUPERVISOR, user=UserFactory(username="sven"))
    set_real_password(supervisor)
    context = browser.new_context(viewport={"width": 1600, "height": 1100})
    try:
        board = log_in(context, asgi_server.url, "sven", "/supervisor/")

        # when the socket drops (as on a network change) and work arrives meanwhile
        board.evaluate("window.ccLive.drop()")
        work_item_enqueue(
            tenant_id=tenant.pk, queue=support_queue, kind="call", channel_kind="voice"
        )

        # then it reconnects by itself and the count catches up
        board.wait_for_selector("#live-status[data-state=live]", timeout=LIVE_TIMEOUT_MS)
        wait_for_text(board, "[data-testid=waiting]", "1")
        shots(board, "after-drop")

        # when the server restarts and more work arrives while it is down
        asgi_server.stop()
        board.wait_for_selector("#live-status[data-state=offline]", timeout=LIVE_TIMEOUT_MS)
        shots(board, "server-down")
        work_item_enqueue(
            tenant_id=tenant.pk, queue=support_queue, kind="call", channel_kind="voice"
        )
        asgi_server.start()

        # then the wallboard reconnects and shows what it missed, without a reload
        board.wait_for_selector("#live-status[data-state=live]", timeout=20000)
        wait_for_text(board, "[data-testid=waiting]", "2")
        shots(board, "after-restart")
        # and it is live again
        work_item_enqueue(
            tenant_id=tenant.pk, queue=support_queue, kind="call", channel_kind="voice"
        )
        wait_for_text(board, "[data-testid=waiting]", "3")
        assert board.evaluate("window.__noReload") is True
    finally:
        context.close()
        connections.close_all()


def test_keyboard_shortcuts_in_the_agent_workspace(tenant, asgi_server, browser, shots):
    """static/js/shortcuts.js on the agent's page (kept here with the other live-page tests)."""
    from crm.services.routing import work_item_enqueue
    from tests.crm.factories import QueueFactory

    # given an agent with the workspace open
    queue = QueueFactory(tenant=tenant, name="Support")
    agent = AgentProfileFactory(tenant=tenant, user=UserFactory(username="alma"))
    set_real_password(agent.user)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = log_in(context, asgi_server.url, "alma", "/agent/")

        # when they press "?", the help lists what the page offers; Escape closes it
        page.keyboard.press("?")
        help_box = page.wait_for_selector("[data-testid=shortcut-help]")
        assert "Go available" in help_box.inner_text()
        shots(page, "shortcut-help")
        page.keyboard.press("Escape")
        page.wait_for_selector("[data-testid=shortcut-help]", state="detached")

        # when they press Shift+V they are available
        page.keyboard.press("Shift+V")
        page.wait_for_selector(".presence-available", timeout=LIVE_TIMEOUT_MS)

        # and an offer that arrives is accepted with "a"
        item = work_item_enqueue(
            tenant_id=tenant.pk, queue=queue, kind="call", channel_kind="voice"
        )
        page.wait_for_selector("[data-testid=offers] .offer", timeout=LIVE_TIMEOUT_MS)
        shots(page, "offer-before-shortcut")
        page.keyboard.press("a")
        page.wait_for_selector(
            f'[data-testid=assigned] [data-work-item="{item.pk}"]', timeout=LIVE_TIMEOUT_MS
        )
        shots(page, "offer-accepted-by-shortcut")

        # and a key typed in a text field is text, not a shortcut
        page.evaluate(
            """() => { const f = document.createElement('input'); f.id = 'probe';
                       document.body.appendChild(f); f.focus(); }"""
        )
        page.keyboard.type("?a")
        assert page.input_value("#probe") == "?a"
        assert page.locator("[data-testid=shortcut-help]").count() == 0
    finally:
        context.close()
        connections.close_all()
