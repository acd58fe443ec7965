"""Pages of the inbox outside the agent workspace: the public web form (/forms/<token>/) and
the agents' page for scanned letters (/agent/post/new/).

The web form is made to be embedded in a customer's site in an iframe, so it is exempt from
X-Frame-Options (this page only) and from CSRF: a cross-site iframe does not get our CSRF
cookie (SameSite), and the form acts for no signed-in user, so CSRF would protect nothing.
Instead each page carries a signed token (channel + nonce, valid a day) that proves it was
loaded and makes a double submission one message; a honeypot field and a per-address rate limit
(WEBFORM_RATE_LIMIT, counted in the Redis cache) keep bots out.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from channels_inbox.forms import PostForm, WebForm, form_token_new, form_token_nonce
from channels_inbox.models import Channel, InboxKind
from channels_inbox.services.post import post_channels_for, post_receive, webform_submit
from crm.models import Contact
from crm.tenancy import principal_for_user

logger = logging.getLogger("channels_inbox")

RATE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(spec: str) -> tuple[int, int]:
    """ "5/m" → (5, 60): at most 5 per minute. Units s, m, h, d (also "min", "hour", ...)."""
    count, _sep, unit = spec.partition("/")
    return int(count), RATE_UNITS[(unit.strip() or "m")[0].lower()]


def client_address(request: HttpRequest) -> str:
    """The visitor's address. Behind a reverse proxy set WEBFORM_CLIENT_IP_HEADER (e.g.
    "HTTP_X_REAL_IP") to the META key the proxy fills; the first address in it counts."""
    header = getattr(settings, "WEBFORM_CLIENT_IP_HEADER", "")
    value = request.META.get(header, "") if header else ""
    return value.split(",")[0].strip() or request.META.get("REMOTE_ADDR", "")


def rate_limited(request: HttpRequest) -> bool:
    """Count this submission against the visitor's address; True once over the limit."""
    limit, period = parse_rate(settings.WEBFORM_RATE_LIMIT)
    key = f"webform-rate:{client_address(request)}"
    if cache.add(key, 1, timeout=period):
        return False
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period)
        return False


def _render_form(request, channel, form, *, status=200, sent=False, error=""):
    return render(
        request,
        "inbox_public/webform.html",
        {"channel": channel, "form": form, "sent": sent, "error": error},
        status=status,
    )


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def webform(request: HttpRequest, token: str) -> HttpResponse:
    channel = get_object_or_404(
        Channel.objects.select_related("tenant"),
        token=token,
        kind=InboxKind.WEBFORM,
        is_active=True,
    )
    if request.method == "GET":
        form = WebForm(channel=channel, initial={"form_token": form_token_new(channel)})
        return _render_form(request, channel, form)
    form = WebForm(request.POST, request.FILES, channel=channel)
    if rate_limited(request):
        logger.warning("web form %s: rate limit hit by %s", channel.pk, client_address(request))
        return _render_form(
            request,
            channel,
            form,
            status=429,
            error=_(
                "Too many messages from your address. Please wait a few minutes and try again."
            ),
        )
    if form.is_spam:
        # Bots are told it worked, so they learn nothing; nothing is stored.
        logger.info("web form %s: honeypot filled by %s", channel.pk, client_address(request))
        return _render_form(request, channel, WebForm(channel=channel), sent=True)
    if not form.is_valid():
        return _render_form(request, channel, form, status=400)
    nonce = form_token_nonce(form.cleaned_data["form_token"], channel)
    if nonce is None:
        data = request.POST.copy()
        data["form_token"] = form_token_new(channel)
        return _render_form(
            request,
            channel,
            WebForm(data, channel=channel),
            status=400,
            error=_("This form has expired. Please check your message and send it again."),
        )
    data = form.cleaned_data
    webform_submit(
        channel=channel,
        nonce=nonce,
        name=data["name"],
        email=data["email"],
        phone=data["phone"],
        subject=data["subject"],
        message=data["message"],
        attachment=data["attachment"],
        client_address=client_address(request),
    )
    return _render_form(request, channel, WebForm(channel=channel), sent=True)


@login_required
@require_http_methods(["GET", "POST"])
def post_new(request: HttpRequest) -> HttpResponse:
    """An agent files a scanned letter with its sender's details."""
    principal = principal_for_user(request.user)
    channels = post_channels_for(principal)
    if not channels.exists():
        raise PermissionDenied(_("You are not an agent of a tenant with a post channel."))
    status = 200
    if request.method == "POST":
        form = PostForm(request.POST, request.FILES, channels=channels)
        if form.is_valid():
            data = form.cleaned_data
            channel = data["channel"]
            contact = None
            if data["contact"]:
                contact = Contact.objects.filter(
                    tenant_id=channel.tenant_id, pk=data["contact"]
                ).first()
                if contact is None:
                    form.add_error("contact", _("No such contact."))
            if not form.errors:
                try:
                    received = post_receive(
                        channel=channel,
                        actor=principal,
                        scan=data["scan"],
                        sender_name=data["sender_name"],
                        sender_address=data["sender_address"],
                        email=data["email"],
                        phone=data["phone"],
                        contact=contact,
                        subject=data["subject"],
                        text=data["text"],
                        received_on=data["received_on"],
                    )
                except ValidationError as exc:
                    errors = (
                        exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                    )
                    for field, messages_ in errors.items():
                        form.add_error(field if field in form.fields else None, messages_)
                else:
                    messages.success(
                        request,
                        _("The letter is filed on %(contact)s.")
                        % {"contact": received.conversation.contact},
                    )
                    return redirect(
                        reverse("channels_inbox:post-new") + f"?filed={received.message.pk}"
                    )
        status = 400
    else:
        contact = request.GET.get("contact", "")
        form = PostForm(
            channels=channels,
            initial={
                "contact": int(contact) if contact.isdigit() else None,
                "channel": channels.first(),
            },
        )
    return render(request, "inbox_public/post_new.html", {"form": form}, status=status)
