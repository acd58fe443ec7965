"""Celery tasks of the in-call features: thin wrappers around `telephony.services.incall`."""

from __future__ import annotations

from celery import shared_task

from telephony.services.incall import call_ended_settle, call_redirect_send, call_wrapup_expire


# Retried on any failure (provider unreachable): the redirect is marked sent only once the
# provider took it, and never sent twice.
@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=2, max_retries=3)
def call_redirect(event_id: int) -> bool:
    """Redirect a live call's caller leg (hold, resume, transfer) through the provider."""
    return call_redirect_send(event_id=event_id)


@shared_task(ignore_result=True)
def wrapup_expire(call_id: int, agent_id: int) -> bool:
    """The after-call-work timer ran out (scheduled with a countdown)."""
    return call_wrapup_expire(call_id=call_id, agent_id=agent_id)


@shared_task(ignore_result=True)
def call_ended(call_id: int) -> None:
    """Close an open hold and start after-call work for an agent who had the caller on hold."""
    call_ended_settle(call_id=call_id)


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=2, max_retries=3)
def conference_request(event_id: int) -> bool:
    """Send a conference participant request (monitoring, warm transfer) to the provider."""
    from telephony.services.monitoring import conference_request_send

    return conference_request_send(event_id=event_id)
