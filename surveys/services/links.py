"""Web survey links: signed, expiring, one response each, and sending them.

A link carries its survey, contact, conversation and a one-time nonce, signed with the
project's SECRET_KEY (django.core.signing) and valid for SURVEY_LINK_MAX_AGE_DAYS. Nothing is
stored until the contact answers; the response then keeps the nonce (unique), so a second
visit after finishing finds the link used.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from channels_inbox.models import Conversation
from crm.models import Contact
from surveys.models import ChannelSurvey, Survey, SurveyInvitation

logger = logging.getLogger("surveys")
SALT = "surveys.link"

DEFAULT_MESSAGE = {
    "en": "Thank you for contacting us. Tell us how we did: {link}",
    "da": "Tak for din henvendelse. Fortæl os, hvordan vi klarede det: {link}",
    "pl": "Dziękujemy za kontakt. Powiedz nam, jak nam poszło: {link}",
}


class LinkInvalid(Exception):
    """Not a link we made (tampered, truncated)."""


class LinkExpired(Exception):
    """A genuine link older than SURVEY_LINK_MAX_AGE_DAYS."""


@dataclass(frozen=True)
class Link:
    survey_id: int
    contact_id: int | None
    conversation_id: int | None
    nonce: str


def max_age_seconds() -> int:
    return int(getattr(settings, "SURVEY_LINK_MAX_AGE_DAYS", 14)) * 86400


def survey_link_token(
    *,
    survey: Survey,
    contact: Contact | None = None,
    conversation: Conversation | None = None,
    nonce: str | None = None,
) -> str:
    """A signed token naming the survey, contact and conversation (no personal data inside)."""
    payload = {
        "s": survey.pk,
        "c": contact.pk if contact is not None else None,
        "v": conversation.pk if conversation is not None else None,
        "n": nonce or secrets.token_urlsafe(12),
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def survey_link_url(token: str) -> str:
    return settings.PUBLIC_BASE_URL + reverse("surveys:web", args=[token])


def survey_link_read(token: str) -> Link:
    """The link's contents; raises LinkExpired or LinkInvalid."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age_seconds())
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise LinkInvalid from None
    try:
        return Link(
            survey_id=int(data["s"]),
            contact_id=int(data["c"]) if data.get("c") else None,
            conversation_id=int(data["v"]) if data.get("v") else None,
            nonce=str(data["n"]),
        )
    except (KeyError, TypeError, ValueError):
        raise LinkInvalid from None


def invitation_text(setting: ChannelSurvey, contact: Contact, url: str) -> str:
    template = setting.message.strip()
    if not template:
        language = (contact.language or setting.survey.speaking_language() or "en")[:2]
        template = DEFAULT_MESSAGE.get(language, DEFAULT_MESSAGE["en"])
    if "{link}" not in template:
        template = template + " {link}"
    return template.replace("{link}", url)


def survey_invite_on_resolve(*, conversation_id: int) -> SurveyInvitation | None:
    """Send the channel's web survey link to a resolved conversation's contact, once.

    Idempotent: the invitation row is unique per survey and conversation, so a second
    resolution (or the event delivered twice) sends nothing. The message is queued through
    `channels_inbox.services.replies.message_auto_reply`, which sends it after commit and
    refuses to answer auto-replies and bounces (then no invitation is kept either).
    """
    from channels_inbox.services.replies import message_auto_reply

    conversation = (
        Conversation.objects.select_related("contact", "channel").filter(pk=conversation_id).first()
    )
    if conversation is None:
        return None
    setting = (
        ChannelSurvey.objects.select_related("survey__tenant")
        .filter(channel_id=conversation.channel_id, is_active=True, survey__for_web=True)
        .first()
    )
    if setting is None:
        return None
    survey = setting.survey
    if SurveyInvitation.objects.filter(survey=survey, conversation=conversation).exists():
        return None
    nonce = secrets.token_urlsafe(12)
    token = survey_link_token(
        survey=survey, contact=conversation.contact, conversation=conversation, nonce=nonce
    )
    try:
        with transaction.atomic():
            invitation = SurveyInvitation.objects.create(
                tenant_id=conversation.tenant_id,
                survey=survey,
                contact=conversation.contact,
                conversation=conversation,
                nonce=nonce,
            )
            text = invitation_text(setting, conversation.contact, survey_link_url(token))
            message = message_auto_reply(conversation=conversation, text=text)
            if message is None:
                transaction.set_rollback(True)
                return None
            invitation.message_id = message.pk
            invitation.save(update_fields=["message_id"])
    except IntegrityError:
        return None  # the same resolution delivered twice at once: the other one sent
    return invitation
