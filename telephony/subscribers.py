"""Domain-event subscribers of telephony (registered in `TelephonyConfig.ready`).

They run after commit in the committing process, so they only hand work to Celery.
"""

from __future__ import annotations

from crm.events import DomainEvent, subscribe
from telephony.services.calls import REF_TYPE
from telephony.tasks import ring_agent


@subscribe
def ring_offered_agent(event: DomainEvent) -> None:
    """The routing engine offered a call to an agent: ring that agent's softphone."""
    if event.name != "work.offered" or event.payload.get("ref_type") != REF_TYPE:
        return
    ring_agent.delay(call_id=int(event.payload["ref_id"]), offer_id=int(event.payload["offer_id"]))
