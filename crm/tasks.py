"""Celery tasks of the CRM: thin, idempotent wrappers around services."""

from __future__ import annotations

from celery import shared_task

from crm.models import WorkItem
from crm.services.routing import offers_expire, work_route, work_route_waiting


@shared_task(ignore_result=True)
def expire_offers() -> dict[str, int]:
    """Beat, every few seconds: expire missed offers (their items go to the next agent), then
    offer any work still waiting to available agents with room (the safety net for an item and
    an agent that skipped each other under lock contention). Safe to run twice or in parallel."""
    expired = offers_expire()
    offered = work_route_waiting()
    return {"expired": expired, "offered": offered}


@shared_task(ignore_result=True)
def route_waiting_work() -> int:
    """Offer waiting work to every available agent with room. Returns the number of offers."""
    return work_route_waiting()


@shared_task(ignore_result=True)
def route_work_item(work_item_id: int) -> bool:
    """Try to offer one item (a no-op unless it is waiting). True when an offer was made."""
    item = WorkItem.objects.filter(pk=work_item_id).first()
    if item is None:
        return False
    return work_route(item=item) is not None
