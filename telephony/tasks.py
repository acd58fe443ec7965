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


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=2, max_retries=3)
def outbound_place(call_id: int) -> str | None:
    """Place a click-to-call: ring the agent's browser first (see `outbound_call_place`).
    Running it twice places one call."""
    from telephony.services.outbound import outbound_call_place

    return outbound_call_place(call_id=call_id)


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=2, max_retries=3)
def callback_dial(callback_id: int) -> int | None:
    """An agent accepted a callback: call the customer back (see `callbacks.callback_dial`)."""
    from telephony.services.callbacks import callback_dial as dial

    call = dial(callback_id=callback_id)
    return call.pk if call is not None else None


@shared_task(ignore_result=True)
def callbacks_tick() -> tuple[int, int]:
    """Celery beat, once a minute: requeue callbacks due for a retry, expire overdue ones."""
    from telephony.services.callbacks import callbacks_tick as tick

    return tick()
