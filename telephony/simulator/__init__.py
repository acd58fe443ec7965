"""The simulated Twilio: signs and posts Twilio's webhooks, follows the app's TwiML, honours the
REST requests the app makes through `SimulatedVoiceProvider`.

    from telephony.simulator import CallScript, DjangoClientTransport, SimulatedCall

    result = SimulatedCall(
        transport=DjangoClientTransport(), to="+4570100100", from_="+4520304050",
        script=CallScript(presses=["1"], hangup_after=60),
    ).run()
    result.heard, result.urls, result.status, print("\\n".join(result.lines()))

`python manage.py simulate_call` does the same over HTTP against a running server.
"""

from telephony.simulator.call import SimulatedCall, drive_outbound_calls
from telephony.simulator.clock import RealClock, SimClock
from telephony.simulator.result import CallResult, Exchange, Step
from telephony.simulator.script import CallScript, DialOutcome
from telephony.simulator.transport import (
    DjangoClientTransport,
    HttpTransport,
    Transport,
    TransportResponse,
    signed_request,
)

__all__ = [
    "CallResult",
    "CallScript",
    "DialOutcome",
    "DjangoClientTransport",
    "Exchange",
    "HttpTransport",
    "RealClock",
    "SimClock",
    "SimulatedCall",
    "Step",
    "Transport",
    "TransportResponse",
    "drive_outbound_calls",
    "signed_request",
]
