"""Outbound adapters to the voice provider: Twilio's REST API or the simulated Twilio.

`get_voice_provider()` picks the simulated provider when no Twilio credentials are configured
(settings.TWILIO_SIMULATED), so the demo, the tests and the benchmarks run the same code paths.
"""

from telephony.providers.base import VoiceProvider, get_voice_provider

__all__ = ["VoiceProvider", "get_voice_provider"]
