"""Forms of the public web form (/forms/<token>/) and of the agents' scanned-letter page."""

from __future__ import annotations

import os
import secrets

from django import forms
from django.conf import settings
from django.core import signing
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from channels_inbox.models import Channel

FORM_TOKEN_SALT = "channels_inbox.webform"
FORM_TOKEN_MAX_AGE_SECONDS = 24 * 3600
PHONE = RegexValidator(r"^\+?[0-9 ()./-]{5,30}$", _("Enter a phone number, e.g. +45 20 30 40 50."))
SCAN_TYPES = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}


def form_token_new(channel: Channel) -> str:
    """A signed token naming the channel and a fresh nonce: the submission's idempotency key
    (sending the same page twice opens one conversation) and proof that the form was loaded."""
    return signing.dumps({"c": channel.pk, "n": secrets.token_hex(12)}, salt=FORM_TOKEN_SALT)


def form_token_nonce(token: str, channel: Channel) -> str | None:
    """The nonce of a valid, unexpired token for `channel`, else None."""
    try:
        data = signing.loads(token, salt=FORM_TOKEN_SALT, max_age=FORM_TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("c") != channel.pk:
        return None
    nonce = data.get("n")
    return nonce if isinstance(nonce, str) and nonce else None


def _max_upload_bytes(channel: Channel | None) -> int:
    limit = settings.INBOX_MEDIA_MAX_BYTES
    if channel is not None:
        limit = min(limit, channel.max_message_bytes)
    return limit


def _check_upload(upload, *, channel: Channel | None, allowed: dict[str, str] | None = None):
    if upload is None:
        return upload
    extension = os.path.splitext(upload.name)[1].lower()
    forbidden = {ext.lower() for ext in settings.INBOX_FORBIDDEN_EXTENSIONS}
    if extension in forbidden or (allowed is not None and extension not in allowed):
        raise forms.ValidationError(
            _("Files of type %(extension)s are not accepted.")
            % {"extension": extension or _("(none)")}
        )
    limit = _max_upload_bytes(channel)
    if upload.size > limit:
        raise forms.ValidationError(
            _("The file is too large: at most %(mb)s MB.") % {"mb": limit // (1024 * 1024)}
        )
    return upload


class WebForm(forms.Form):
    """A customer's message. `website` is a honeypot: hidden from people, filled by bots."""

    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("Email"), max_length=254)
    phone = forms.CharField(
        label=_("Phone (optional)"), max_length=30, required=False, validators=[PHONE]
    )
    subject = forms.CharField(label=_("Subject"), max_length=300, required=False)
    message = forms.CharField(
        label=_("Message"), max_length=20_000, widget=forms.Textarea(attrs={"rows": 6})
    )
    attachment = forms.FileField(label=_("Attachment (optional)"), required=False)
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    form_token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, channel: Channel, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel

    def clean_attachment(self):
        return _check_upload(self.cleaned_data.get("attachment"), channel=self.channel)

    def clean_message(self):
        message = self.cleaned_data["message"].strip()
        if not message:
            raise forms.ValidationError(_("Please write a message."))
        return message

    @property
    def is_spam(self) -> bool:
        return bool(self.data.get("website", "").strip())


class PostForm(forms.Form):
    """A scanned letter: which post channel, who sent it (an existing contact, or name and
    address to create one), the scan, and the agent's summary."""

    channel = forms.ModelChoiceField(label=_("Post channel"), queryset=Channel.objects.none())
    contact = forms.IntegerField(
        label=_("Existing contact number (optional)"), required=False, min_value=1
    )
    sender_name = forms.CharField(label=_("Sender's name"), max_length=200)
    sender_address = forms.CharField(
        label=_("Sender's postal address"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    email = forms.EmailField(label=_("Sender's email (optional)"), required=False)
    phone = forms.CharField(
        label=_("Sender's phone (optional)"), max_length=30, required=False, validators=[PHONE]
    )
    subject = forms.CharField(label=_("Subject"), max_length=300, required=False)
    text = forms.CharField(
        label=_("Summary or transcription"),
        max_length=20_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    received_on = forms.DateField(
        label=_("Received on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    scan = forms.FileField(label=_("Scanned letter (PDF or image)"))

    def __init__(self, *args, channels, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = channels

    def clean_scan(self):
        return _check_upload(self.cleaned_data.get("scan"), channel=None, allowed=SCAN_TYPES)
