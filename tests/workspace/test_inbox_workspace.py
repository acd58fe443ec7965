"""The inbox in the agent workspace: the work list's conversations and filters, and the
conversation view (thread across channels, composer per channel, replies, notes, status,
assignment), with tenant isolation and first renders whose query count does not grow."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from channels_inbox.models import CannedResponse, InboxKind, MessageDirection
from channels_inbox.services.conversations import live_work_item
from contactcenter.workspace.inbox_views import (
    fill_placeholders,
    fold_html,
    fold_text,
    sms_segments,
)
from crm.models import Tag, WorkItem
from crm.services.timeline import timeline_add
from telephony.models import Call, Recording
from tests.crm.factories import AgentProfileFactory, ContactFactory, TicketFactory
from tests.workspace.inbox_fixtures import add_message, channel, conversation, inbox_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def email(tenant):
    return channel(tenant, inbox_queue(tenant))


@pytest.fixture
def sms(tenant, email):
    return channel(tenant, email.queue, kind=InboxKind.SMS, address="+4570100200")


def _work(client, **params) -> str:
    response = client.get(reverse("agent-work"), params)
    assert response.status_code == 200
    return response.content.decode()


# --- the work list ----------------------------------------------------------------------


def test_my_conversations_are_listed_with_channel_contact_subject_preview_and_unread(
    agent_client, agent_profile, email
):
    contact = ContactFactory(tenant=agent_profile.tenant, first_name="Ingrid", last_name="Berg")
    mine = conversation(
        email,
        contact=contact,
        assignee=agent_profile.user,
        messages=2,
        text="Min faktura er for høj",
    )
    colleague = AgentProfileFactory(tenant=agent_profile.tenant)
    theirs = conversation(email, assignee=colleague.user)

    html = _work(agent_client)

    assert f'data-conversation="{mine.pk}"' in html
    assert f'data-conversation="{theirs.pk}"' not in html
    row = html[html.index(f'data-conversation="{mine.pk}"') :][:2000]
    assert "Ingrid Berg" in row
    assert "Invoice question" in row
    assert "Min faktura er for høj" in row
    assert 'class="count unread-count"' in row
    assert ">2<" in row
    assert "channel-email" in row
    assert reverse("agent-conversation", args=[mine.pk]) in row


def test_the_work_list_refreshes_on_inbox_events(agent_client, agent_profile):
    html = _work(agent_client)
    events = html[html.index("data-live-events=") :].split('"')[1].split()
    for name in (
        "message.received",
        "message.created",
        "conversation.assigned",
        "conversation.status_changed",
    ):
        assert name in events


def test_filters_by_channel_status_tag_and_search(agent_client, agent_profile, email, sms):
    user = agent_profile.user
    tagged = ContactFactory(tenant=agent_profile.tenant, first_name="Zofia")
    tagged.tags.add(Tag.objects.create(tenant=agent_profile.tenant, name="vip"))
    by_mail = conversation(email, assignee=user, subject="Broken meter", contact=tagged)
    by_sms = conversation(sms, assignee=user, subject="", text="Hvornår kommer teknikeren?")
    waiting = conversation(email, assignee=user, subject="Waiting one", status="pending")
    done = conversation(email, assignee=user, subject="Done", status="resolved")
    ticket = TicketFactory(tenant=agent_profile.tenant, assignee=user, subject="Meter ticket")

    def ids(**params) -> set[int]:
        html = _work(agent_client, **params)
        return {
            c.pk for c in (by_mail, by_sms, waiting, done) if f'data-conversation="{c.pk}"' in html
        }

    assert ids() == {by_mail.pk, by_sms.pk, waiting.pk}  # resolved ones leave the list
    assert ids(channel="sms") == {by_sms.pk}
    assert ids(status="pending") == {waiting.pk}
    assert ids(status="resolved") == {done.pk}
    assert ids(tag="vip") == {by_mail.pk}
    assert ids(q="teknikeren") == {by_sms.pk}
    assert ids(q="zofia") == {by_mail.pk}
    # tickets answer the search too; a channel filter is about conversations only
    assert f'data-ticket="{ticket.pk}"' in _work(agent_client, q="meter")
    assert f'data-ticket="{ticket.pk}"' not in _work(agent_client, channel="email")


def test_an_offered_conversation_shows_who_and_what(agent_client, agent_profile, email):
    from crm.models import Presence
    from crm.services.presence import agent_set_presence
    from crm.services.routing import work_item_enqueue

    agent_set_presence(agent=agent_profile, presence=Presence.AVAILABLE)
    contact = ContactFactory(tenant=agent_profile.tenant, first_name="Ole", last_name="Lund")
    conv = conversation(email, contact=contact, subject="Flytning")
    work_item_enqueue(
        tenant_id=conv.tenant_id,
        queue=conv.queue,
        kind="conversation",
        channel_kind="email",
        ref_type="channels_inbox.conversation",
        ref_id=str(conv.pk),
    )

    html = _work(agent_client)
    offers = html[html.index('data-testid="offers"') : html.index('data-testid="conversations"')]
    assert "Ole Lund" in offers
    assert "Flytning" in offers


# --- the conversation view --------------------------------------------------------------


def test_conversation_view_shows_the_thread_across_channels(agent_client, agent_profile, email):
    tenant = agent_profile.tenant
    conv = conversation(email, assignee=agent_profile.user, messages=0)
    add_message(
        conv,
        html="<p>Hej</p><script>alert(1)</script><blockquote>Old mail text</blockquote>",
        text="Hej",
    )
    add_message(conv, text="Tak for svaret.\n\nOn Mon, 3 Nov 2026 Alma wrote:\n> gammelt svar")
    add_message(
        conv,
        direction=MessageDirection.NOTE,
        text="Ring kunden i morgen",
        author=agent_profile.user,
    )
    call = Call.objects.create(
        tenant=tenant,
        sid="CA" + "1" * 32,
        direction="inbound",
        from_number="+4520304050",
        to_number="+4570100100",
        contact=conv.contact,
    )
    recording = Recording.objects.create(tenant=tenant, call=call, recording_sid="RE1")
    timeline_add(
        tenant_id=tenant.pk,
        contact=conv.contact,
        kind="call.ended",
        summary="Call 3 min",
        ref_type="telephony.call",
        ref_id=call.pk,
    )

    response = agent_client.get(reverse("agent-conversation", args=[conv.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "<p>Hej</p>" in html
    # quoted text folded away, not lost
    assert '<details class="quoted">' in html
    assert "Old mail text" in html
    tak = html[html.index("Tak for svaret.") :]
    assert tak.index("Show quoted text") < tak.index("gammelt svar")
    assert "Ring kunden i morgen" in html
    assert "msg-note" in html
    assert "Call 3 min" in html
    assert reverse("telephony-recording-play", args=[recording.pk]) in html
    assert f'data-contact="{conv.contact_id}"' in html  # the contact panel


def test_opening_my_conversation_marks_it_read(agent_client, agent_profile, email):
    conv = conversation(email, assignee=agent_profile.user, messages=3)
    agent_client.get(reverse("agent-conversation", args=[conv.pk]))
    conv.refresh_from_db()
    assert conv.unread_count == 0


def test_composer_fits_the_channel(agent_client, agent_profile, email, sms):
    messenger = channel(agent_profile.tenant, email.queue, kind=InboxKind.MESSENGER, address="1")
    pages = {
        c.channel.kind: agent_client.get(
            reverse("agent-conversation", args=[c.pk])
        ).content.decode()
        for c in (conversation(email), conversation(sms), conversation(messenger))
    }
    assert 'name="subject"' in pages["email"]
    assert 'name="cc"' in pages["email"]
    assert 'name="attachments"' in pages["email"]
    assert "data-sms-counter" in pages["sms"]
    assert 'name="subject"' not in pages["sms"]
    assert "Plain text message" in pages["messenger"]
    assert 'name="attachments"' not in pages["messenger"]


def test_canned_responses_come_with_placeholders_filled(agent_client, agent_profile, email):
    agent_profile.user.first_name = "Alma"
    agent_profile.user.save()
    contact = ContactFactory(tenant=agent_profile.tenant, first_name="Ingrid")
    ticket = TicketFactory(tenant=agent_profile.tenant, contact=contact)
    conv = conversation(email, contact=contact, ticket=ticket)
    CannedResponse.objects.create(
        tenant=agent_profile.tenant,
        title="Thanks",
        shortcut="tak",
        body="Hej {contact.first_name}, sag #{ticket.number}. Mvh {agent.first_name}",
    )

    html = agent_client.get(reverse("agent-conversation", args=[conv.pk])).content.decode()

    start = html.index('id="canned-data"')
    data = json.loads(html[html.index(">", start) + 1 : html.index("</script>", start)])
    assert data == [
        {
            "shortcut": "tak",
            "title": "Thanks",
            "body": f"Hej Ingrid, sag #{ticket.number}. Mvh Alma",
        }
    ]


def test_another_tenants_conversation_is_404(agent_client, other_tenant):
    theirs = conversation(channel(other_tenant, inbox_queue(other_tenant)))
    for name in ("agent-conversation", "agent-conversation-thread", "agent-conversation-header"):
        assert agent_client.get(reverse(name, args=[theirs.pk])).status_code == 404
    response = agent_client.post(
        reverse("agent-conversation-reply", args=[theirs.pk]), {"text": "hi", "mode": "note"}
    )
    assert response.status_code == 404
    assert theirs.messages.count() == 1


def test_adding_a_note_answers_the_fresh_thread(agent_client, agent_profile, email):
    conv = conversation(email, assignee=agent_profile.user)
    response = agent_client.post(
        reverse("agent-conversation-reply", args=[conv.pk]),
        {"mode": "note", "text": "Kunden er utilfreds"},
    )
    assert response.status_code == 200
    assert "Kunden er utilfreds" in response.content.decode()
    assert conv.messages.filter(direction="note", author=agent_profile.user).count() == 1


def test_replying_queues_an_outbound_message(
    agent_client, agent_profile, email, django_capture_on_commit_callbacks
):
    conv = conversation(email, assignee=agent_profile.user)
    response = agent_client.post(
        reverse("agent-conversation-reply", args=[conv.pk]),
        {"mode": "reply", "text": "Vi har rettet fakturaen.", "subject": "Re: Invoice question"},
    )
    assert response.status_code == 200, response.content.decode()[:500]
    reply = conv.messages.get(direction="outbound")
    assert reply.text == "Vi har rettet fakturaen."
    assert reply.author == agent_profile.user
    assert 'data-testid="message-status"' in response.content.decode()


def test_an_empty_reply_is_refused_with_a_reason(agent_client, agent_profile, email):
    conv = conversation(email, assignee=agent_profile.user)
    response = agent_client.post(
        reverse("agent-conversation-reply", args=[conv.pk]), {"mode": "reply", "text": "  "}
    )
    assert response.status_code == 400
    assert "Write something first." in response.content.decode()
    assert conv.messages.count() == 1


def test_resolve_and_reopen_from_the_header(agent_client, agent_profile, email):
    conv = conversation(email)
    agent_client.post(reverse("agent-conversation-assign", args=[conv.pk]), {"assignee": "me"})
    url = reverse("agent-conversation-status", args=[conv.pk])

    resolved = agent_client.post(url, {"status": "resolved"})
    assert resolved.status_code == 200
    assert resolved["HX-Trigger"] == "work-changed"
    assert 'data-action="reopen"' in resolved.content.decode()
    conv.refresh_from_db()
    assert conv.status == "resolved"
    assert live_work_item(conv) is None

    agent_client.post(url, {"status": "open"})
    conv.refresh_from_db()
    assert conv.status == "open"
    assert live_work_item(conv).status == WorkItem.Status.ASSIGNED

    assert agent_client.post(url, {"status": "bogus"}).status_code == 400


def test_taking_and_assigning_from_the_header(agent_client, agent_profile, email, other_tenant):
    conv = conversation(email)
    url = reverse("agent-conversation-assign", args=[conv.pk])

    taken = agent_client.post(url, {"assignee": "me"})
    assert taken.status_code == 200
    conv.refresh_from_db()
    assert conv.assignee == agent_profile.user

    stranger = AgentProfileFactory(tenant=other_tenant)
    refused = agent_client.post(url, {"assignee": str(stranger.user_id)})
    assert refused.status_code == 400
    assert "not an agent of this tenant" in refused.content.decode()
    conv.refresh_from_db()
    assert conv.assignee == agent_profile.user


# --- query counts -----------------------------------------------------------------------


def _queries(client, url) -> int:
    client.get(url)  # warm caches that are filled once per process (templates, content types)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_conversation_view_runs_the_same_queries_for_2_and_12_messages(
    agent_client, agent_profile, email
):
    tenant = agent_profile.tenant
    conv = conversation(email, assignee=agent_profile.user, messages=2)
    conv.ticket = TicketFactory(tenant=tenant, contact=conv.contact)
    conv.save()
    url = reverse("agent-conversation", args=[conv.pk])
    few = _queries(agent_client, url)
    for i in range(10):
        add_message(conv, text=f"more {i}", html="<p>x</p>")
        timeline_add(tenant_id=tenant.pk, contact=conv.contact, kind="call.ended", summary="c")
        conversation(email, contact=conv.contact)
        conversation(email, assignee=agent_profile.user)
        CannedResponse.objects.create(tenant=tenant, title=f"T{i}", shortcut=f"t{i}", body="b")
    assert _queries(agent_client, url) == few


def test_work_list_runs_the_same_queries_for_2_and_12_conversations(
    agent_client, agent_profile, email
):
    for _ in range(2):
        conversation(email, assignee=agent_profile.user)
        conversation(email)
    few = _queries(agent_client, reverse("agent-workspace"))
    for _ in range(10):
        conversation(email, assignee=agent_profile.user)
        conversation(email)  # waiting in the queue, unassigned
    assert _queries(agent_client, reverse("agent-workspace")) == few


# --- helpers: SMS segments, quoted text, placeholders -----------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters count twice: 160 units
        ("€" * 81, "GSM-7", 2),
        ("Hej Søren, æøå er fint", "GSM-7", 1),
        ("ą" * 70, "UCS-2", 1),  # Polish letters need UCS-2
        ("ą" * 71, "UCS-2", 2),
        ("ą" * 134, "UCS-2", 2),
        ("ą" * 135, "UCS-2", 3),
    ],
)
def test_sms_segments(text, encoding, segments):
    result = sms_segments(text)
    assert (result["encoding"], result["segments"]) == (encoding, segments)


def test_fold_text_keeps_the_new_part_and_folds_the_quote():
    body, quoted = fold_text("Thanks!\n\nOn Tue, 4 Nov 2026 at 10:00 Alma wrote:\n> old")
    assert body == "Thanks!"
    assert quoted.startswith("On Tue")
    assert "> old" in quoted
    assert fold_text("Just text") == ("Just text", "")
    assert fold_text("> only a quote") == ("> only a quote", "")
    # an inline citation answered below it is part of what the sender wrote
    inline = "> Can you call me?\nYes, tomorrow at 10."
    assert fold_text("Hi\n" + inline) == ("Hi\n" + inline, "")


def test_fold_html_sanitises_both_parts():
    body, quoted = fold_html(
        '<p onclick="x()">New</p><blockquote><img src=x onerror=y>Old</blockquote>'
    )
    assert "onclick" not in body
    assert "New" in body
    assert "onerror" not in quoted
    assert "Old" in quoted


def test_unknown_placeholders_stay_as_typed(email):
    conv = conversation(email, contact=ContactFactory(tenant=email.tenant, first_name="Bo"))
    filled = fill_placeholders(
        "Hi {contact.first_name} {contact.shoe_size}", conversation=conv, user=None
    )
    assert filled == "Hi Bo {contact.shoe_size}"


def test_unassigned_conversations_of_my_queues_wait_in_the_list(agent_client, agent_profile, email):
    from tests.crm.factories import QueueFactory

    other_queue = QueueFactory(tenant=agent_profile.tenant, name="Sales")
    agent_profile.queues.add(email.queue)
    waiting = conversation(email, subject="Nobody has me")
    elsewhere = conversation(
        channel(agent_profile.tenant, other_queue, address="sales@nordlys.example"),
        subject="Other queue",
    )

    html = _work(agent_client)

    listed = html[html.index('data-testid="waiting-conversations"') :]
    assert f'data-conversation="{waiting.pk}"' in listed
    assert f'data-conversation="{elsewhere.pk}"' not in html


def test_a_failed_reply_shows_its_reason_and_can_be_sent_again(
    agent_client, agent_profile, email, django_capture_on_commit_callbacks
):
    conv = conversation(email, assignee=agent_profile.user)
    failed = add_message(
        conv,
        direction=MessageDirection.OUTBOUND,
        status="failed",
        text="Svar",
        author=agent_profile.user,
        error_message="550 5.1.1 no such user",
    )
    html = agent_client.get(reverse("agent-conversation", args=[conv.pk])).content.decode()
    assert "550 5.1.1 no such user" in html
    assert reverse("agent-message-retry", args=[conv.pk, failed.pk]) in html

    response = agent_client.post(reverse("agent-message-retry", args=[conv.pk, failed.pk]))

    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status in ("queued", "sending", "sent")
    assert conv.messages.filter(direction="outbound").count() == 1  # the same message, not a copy

    again = agent_client.post(reverse("agent-message-retry", args=[conv.pk, failed.pk]))
    assert again.status_code == 400  # only a failed message is sent again
