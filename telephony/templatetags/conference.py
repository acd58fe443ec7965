"""`{% load conference %}{% conference_bridge_enabled as on %}`: whether calls are bridged through
a conference (TELEPHONY_CONFERENCE_BRIDGE), so templates offer monitoring only when it can work."""

from django import template

from telephony.services.conference import conference_bridge_enabled as _enabled

register = template.Library()


@register.simple_tag
def conference_bridge_enabled() -> bool:
    return _enabled()
