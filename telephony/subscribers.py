"""Domain-event subscribers of telephony (registered in `TelephonyConfig.ready`).

They run after commit in the committing process, so they only hand work to Celery.
"""

from __future__ import annotations

from crm.events import DomainEvent, subscribe
from telephony.incall_tasks import call_ended as settle_ended_call_task
from telephony.services.calls import REF_TYPE
from telephony.tasks import ring_agent


@subscribe
def ring_offered_agent(event: DomainEvent) -> None:
    """The routing engine offered a call to an agent: ring that agent's softphone."""
    if event.name != "work.offered" or event.payload.get("ref_type") != REF_TYPE:
        return
    ring_agent.delay(call_id=int(event.payload["ref_id"]), offer_id=int(event.payload["offer_id"]))


@subscribe
def dial_accepted_callback(event: DomainEvent) -> None:
    """An agent accepted a callback work item: call the customer back (agent's browser first)."""
    from telephony.services.callbacks import CALLBACK_REF_TYPE
    from telephony.tasks import callback_dial

    if event.name != "work.assigned" or event.payload.get("ref_type") != CALLBACK_REF_TYPE:
        return
    callback_dial.delay(callback_id=int(event.payload["ref_id"]))


@subscribe
def settle_ended_call(event: DomainEvent) -> None:
    """A call ended: close a hold still open, and start after-call work for an agent who had
    the caller on hold (their leg's end reached no Dial action)."""
    if event.name != "call.ended" or not event.payload.get("agent_id"):
        return
    settle_ended_call_task.delay(call_id=int(event.payload["call_id"]))
