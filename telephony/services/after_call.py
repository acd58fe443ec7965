"""What a caller hears once the agent has hung up, when the caller is still on the line.

`telephony` cannot import the apps above it, so they register here at start-up (in their
AppConfig.ready): `surveys` answers with a post-call survey's first question. The first handler
that returns TwiML wins; with none, the call is hung up as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telephony.models import Call

logger = logging.getLogger(__name__)

AfterCallHandler = Callable[[Call], str | None]
_handlers: list[AfterCallHandler] = []


def after_call_register(handler: AfterCallHandler) -> AfterCallHandler:
    """Register `handler(call) -> TwiML or None`; registering twice is harmless."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def after_call_unregister(handler: AfterCallHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def after_call_twiml(call: Call) -> str | None:
    """TwiML that keeps the caller on the line after the agent left, or None to hang up. A
    failing handler is logged and skipped: the caller is never left in silence by a bug."""
    for handler in list(_handlers):
        try:
            answer = handler(call)
        except Exception:
            logger.exception("after-call handler %r failed for call %s", handler, call.pk)
            continue
        if answer:
            return answer
    return None
