"""What the IVR says when a manager has not written the text: per tenant language.

Danish, Polish and English are spoken (Twilio `<Say language=...>`); any other language falls
back to English. Texts are `str.format` templates.
"""

from __future__ import annotations

from dataclasses import dataclass

SAY_LANGUAGE = {"da": "da-DK", "pl": "pl-PL", "en": "en-US"}
# Amazon Polly voices Twilio offers for each language.
DEFAULT_VOICE = {"da": "Polly.Naja", "pl": "Polly.Ewa", "en": "Polly.Joanna"}

PROMPTS: dict[str, dict[str, str]] = {
    "en": {
        "unknown_number": "Sorry, this number is not in service. Goodbye.",
        "invalid": "Sorry, that is not a valid choice.",
        "timeout": "Sorry, we did not hear your choice.",
        "goodbye_no_input": "We could not understand your choice. Please call again. Goodbye.",
        "goodbye": "Thank you for calling. Goodbye.",
        "closed": "We are closed right now. Please call again during our opening hours.",
        "position": "You are number {position} in the queue.",
        "estimate": "The expected waiting time is about {minutes} minutes.",
        "estimate_one": "The expected waiting time is about one minute.",
        "voicemail": "Please leave a message after the tone. Press the pound key when done.",
        "voicemail_thanks": "Thank you. We have received your message. Goodbye.",
        "no_message": "We did not receive a message. Goodbye.",
        "connecting": "Please hold while we connect your call.",
        "queue_problem": "Sorry, we cannot take your call right now.",
        "callback_offer": "Press 1 to be called back and keep your place in line.",
        "callback_confirmed": "Thank you. We will call you back when an agent is free. Goodbye.",
        "recording_notice": "This call may be recorded.",
    },
    "da": {
        "unknown_number": "Beklager, dette nummer er ikke i brug. Farvel.",
        "invalid": "Beklager, det er ikke et gyldigt valg.",
        "timeout": "Beklager, vi hørte ikke dit valg.",
        "goodbye_no_input": "Vi kunne ikke forstå dit valg. Ring venligst igen. Farvel.",
        "goodbye": "Tak for dit opkald. Farvel.",
        "closed": "Vi har lukket lige nu. Ring venligst igen i vores åbningstid.",
        "position": "Du er nummer {position} i køen.",
        "estimate": "Den forventede ventetid er cirka {minutes} minutter.",
        "estimate_one": "Den forventede ventetid er cirka et minut.",
        "voicemail": "Indtal venligst din besked efter tonen. Tryk på firkant, når du er færdig.",
        "voicemail_thanks": "Tak. Vi har modtaget din besked. Farvel.",
        "no_message": "Vi modtog ingen besked. Farvel.",
        "connecting": "Vent venligst, mens vi stiller dig om.",
        "queue_problem": "Beklager, vi kan ikke tage dit opkald lige nu.",
        "callback_offer": "Tryk 1 for at blive ringet op og beholde din plads i køen.",
        "callback_confirmed": "Tak. Vi ringer dig op, så snart en medarbejder er ledig. Farvel.",
        "recording_notice": "Denne samtale kan blive optaget.",
    },
    "pl": {
        "unknown_number": "Przepraszamy, ten numer jest nieaktywny. Do widzenia.",
        "invalid": "Przepraszamy, to nie jest prawidłowy wybór.",
        "timeout": "Przepraszamy, nie usłyszeliśmy Twojego wyboru.",
        "goodbye_no_input": "Nie rozpoznaliśmy wyboru. Prosimy zadzwonić ponownie. Do widzenia.",
        "goodbye": "Dziękujemy za telefon. Do widzenia.",
        "closed": "Obecnie jesteśmy nieczynni. Prosimy zadzwonić w godzinach otwarcia.",
        "position": "Jesteś {position}. w kolejce.",
        "estimate": "Przewidywany czas oczekiwania to około {minutes} minut.",
        "estimate_one": "Przewidywany czas oczekiwania to około jednej minuty.",
        "voicemail": "Zostaw wiadomość po sygnale. Naciśnij krzyżyk, aby zakończyć.",
        "voicemail_thanks": "Dziękujemy. Otrzymaliśmy Twoją wiadomość. Do widzenia.",
        "no_message": "Nie otrzymaliśmy wiadomości. Do widzenia.",
        "connecting": "Proszę czekać, łączymy rozmowę.",
        "queue_problem": "Przepraszamy, nie możemy teraz odebrać połączenia.",
        "callback_offer": "Naciśnij 1, a oddzwonimy, a Ty zachowasz miejsce w kolejce.",
        "callback_confirmed": "Dziękujemy. Oddzwonimy, gdy konsultant będzie wolny. Do widzenia.",
        "recording_notice": "Ta rozmowa może być nagrywana.",
    },
}


@dataclass(frozen=True)
class Speech:
    """How to speak to one caller: Twilio's language code, the voice and the texts."""

    language: str  # "da", "pl", "en"
    voice: str = ""

    @classmethod
    def for_language(cls, language: str, voice: str = "") -> Speech:
        code = (language or "en").split("-")[0].lower()
        code = code if code in PROMPTS else "en"
        return cls(language=code, voice=voice or DEFAULT_VOICE[code])

    @property
    def say_language(self) -> str:
        return SAY_LANGUAGE[self.language]

    def text(self, name: str, **params: object) -> str:
        return PROMPTS[self.language][name].format(**params)
