"""Concurrent deliveries on PostgreSQL: providers retry in parallel and customers send bursts.
Exactly one message per natural key, one contact per address, one conversation per thread."""

from __future__ import annotations

import secrets
import threading
import traceback

import pytest
from django.db import connection

from channels_inbox.email.ingest import email_ingest
from channels_inbox.inbound import InboundMessage
from channels_inbox.models import Conversation, Message
from channels_inbox.services.conversations import REF_TYPE
from channels_inbox.services.receive import message_receive
from crm.models import Contact, ContactIdentity, Ticket, WorkItem
from tests.channels_inbox.email.support import eml

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 6


def race(work) -> list:
    """Run `work(i)` in WORKERS threads released at once; their results, or fail with the
    tracebacks of any that raised."""
    barrier = threading.Barrier(WORKERS)
    results: list = []
    errors: list[str] = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(work(index))
        except Exception:
            errors.append(traceback.format_exc())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == [], "\n".join(errors)
    return results


def test_the_same_mail_delivered_at_once_is_stored_once(email_channel):
    raw = eml("gmail_new")

    results = race(lambda i: email_ingest(channel=email_channel, raw=raw))

    assert sum(r.created for r in results) == 1
    assert len({r.message.pk for r in results}) == 1
    assert Message.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert Contact.objects.count() == 1
    assert Ticket.objects.count() == 1


def test_a_burst_from_a_new_number_is_one_contact_and_one_conversation(sms_channel):
    def send(index: int):
        return message_receive(
            inbound=InboundMessage(
                channel=sms_channel,
                external_id="SM" + secrets.token_hex(16),
                from_address="+4520304050",
                thread_id="+4520304050",
                text=f"del {index}",
            )
        )

    results = race(send)

    assert all(r.created for r in results)
    assert ContactIdentity.objects.filter(value="+4520304050").count() == 1
    conversation = Conversation.objects.get()
    assert conversation.message_count == WORKERS
    assert WorkItem.objects.filter(ref_type=REF_TYPE, ref_id=str(conversation.pk)).count() == 1
