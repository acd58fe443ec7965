"""Celery tasks of telephony: thin, idempotent wrappers around services."""

from __future__ import annotations

from celery import shared_task

from telephony.services import call_ring_agent


# Retried on any failure (provider unreachable, Twilio error): the service re-checks that the
# offer is still pending first, and never rings twice for one offer.
@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=2, max_retries=3)
def ring_agent(call_id: int, offer_id: int) -> bool:
    """Redirect a queued caller to ring the agent the routing engine offered the call to.
    Running it twice rings once (see `call_ring_agent`)."""
    return call_ring_agent(call_id=call_id, offer_id=offer_id)
