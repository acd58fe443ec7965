"""The agent's conversation view (/agent/conversations/<id>/) and its fragments.

Thin: reads come from `channels_inbox.selectors` and `contactcenter.workspace.selectors`,
writes from `channels_inbox.services` (assignment, status, replies, notes). Each fragment has
its own URL; static/js/live.js re-fetches it when a live event names it.
"""

from __future__ import annotations

import re

import nh3
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels_inbox.models import (
    CannedResponse,
    Conversation,
    ConversationStatus,
    InboxKind,
    Message,
)
from channels_inbox.selectors import canned_responses_for, conversation_get
from channels_inbox.services.conversations import (
    conversation_assign,
    conversation_mark_read,
    conversation_set_status,
)
from channels_inbox.services.replies import (
    conversation_note_add,
    message_reply,
    message_retry,
)
from contactcenter.workspace import selectors
from contactcenter.workspace.views import (
    _agent,
    _error_messages,
    _work_context,
    page_context,
    ticket_panel_context,
)
from crm.models import AgentProfile
from crm.tenancy import principal_for_user

# --- composing: SMS segments, placeholders, quoted text ----------------------------------

# The GSM 03.38 basic alphabet, and its extension table (each extension char costs two).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")
SMS_KINDS = (InboxKind.SMS, InboxKind.WHATSAPP)
PLAIN_KINDS = (InboxKind.MESSENGER, InboxKind.INSTAGRAM)


def sms_segments(text: str) -> dict:
    """How an SMS of `text` is sent: GSM-7 (160 characters, 153 per part when split) unless a
    character needs UCS-2 (70, 67 per part; characters outside the BMP count twice).
    The composer's counter (static/js/workspace.js) computes the same."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, part, encoding = 70, 67, "UCS-2"
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = -(-units // part)
    return {"encoding": encoding, "units": units, "segments": segments, "per_segment": single}


PLACEHOLDER = re.compile(r"\{(contact|agent|ticket)\.([a-z_]+)\}")


def fill_placeholders(body: str, *, conversation: Conversation, user) -> str:
    """Fill {contact.first_name}, {contact.last_name}, {contact.name}, {agent.first_name},
    {agent.name}, {ticket.number}, {ticket.subject}; unknown ones are left as typed."""
    contact, ticket = conversation.contact, conversation.ticket
    agent_name = (user.get_full_name() or user.get_username()) if user else ""
    values = {
        ("contact", "first_name"): contact.first_name,
        ("contact", "last_name"): contact.last_name,
        ("contact", "name"): contact.display_name,
        ("agent", "first_name"): getattr(user, "first_name", "") or agent_name,
        ("agent", "name"): agent_name,
        ("ticket", "number"): str(ticket.number) if ticket else "",
        ("ticket", "subject"): ticket.subject if ticket else "",
    }
    return PLACEHOLDER.sub(lambda m: values.get((m[1], m[2]), m[0]), body)


QUOTE_HEADER = re.compile(
    r"^(On .{3,200} wrote:|Den .{3,200} skrev:|W dniu .{3,200} pisze:|-----\s*Original Message"
    r"\s*-----|-{2,}\s*Oprindelig meddelelse|From: .+)\s*$",
    re.IGNORECASE,
)


def fold_text(text: str) -> tuple[str, str]:
    """(what the sender wrote, the quoted rest): the rest starts at the first quote header
    ("On … wrote:", "-----Original Message-----", "From: …") or at the `>` lines that run to
    the end (blank lines allowed). Linear in the length of the text."""
    lines = text.splitlines()
    # quoted_tail[i]: every line from i on is quoted or blank.
    quoted_tail = [True] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        quoted_tail[index] = quoted_tail[index + 1] and (not stripped or stripped.startswith(">"))
    for index, line in enumerate(lines):
        stripped = line.strip()
        starts_quote = stripped.startswith(">") and quoted_tail[index]
        if starts_quote or QUOTE_HEADER.match(stripped):
            if index == 0:
                return text, ""  # all quote: nothing to fold it under
            return "\n".join(lines[:index]).rstrip(), "\n".join(lines[index:])
    return text, ""


def fold_html(html: str) -> tuple[SafeString, SafeString]:
    """Sanitised HTML split at its first quote (`<blockquote>` or a Gmail/Outlook quote
    marker). Sanitised again here, whatever the ingest did: this is what reaches the page."""
    clean = nh3.clean(html)
    match = re.search(r"<blockquote|<div[^>]*gmail_quote|<hr[^>]*>\s*<[^>]*>\s*From:", clean)
    if match is None or match.start() == 0:
        return mark_safe(clean), mark_safe("")  # noqa: S308 - sanitised by nh3 just above
    # Each part sanitised on its own, so an element cut in two is closed, not left open.
    return (
        mark_safe(nh3.clean(clean[: match.start()])),  # noqa: S308 - sanitised by nh3
        mark_safe(nh3.clean(clean[match.start() :])),  # noqa: S308 - sanitised by nh3
    )


def _decorate(message: Message) -> Message:
    """Attach the display parts of a message (folded text or HTML)."""
    if message.html:
        message.body_html, message.quoted_html = fold_html(message.html)
        message.body_text, message.quoted_text = "", ""
    else:
        message.body_html, message.quoted_html = mark_safe(""), mark_safe("")
        message.body_text, message.quoted_text = fold_text(message.text)
    return message


# --- context builders ----------------------------------------------------------------------


def _conversation(request: HttpRequest, agent: AgentProfile, pk: int) -> Conversation:
    conversation = conversation_get(principal=principal_for_user(request.user), pk=pk)
    if conversation.tenant_id != agent.tenant_id:
        # Visible, but in another of the user's tenants: open it from that workspace.
        raise PermissionDenied(_("This conversation belongs to another of your tenants."))
    return conversation


def _header_context(request: HttpRequest, agent: AgentProfile, conversation: Conversation):
    return {
        "agent": agent,
        "conversation": conversation,
        "statuses": ConversationStatus.choices,
        "assignees": selectors.tenant_agents(tenant_id=agent.tenant_id),
    }


def _thread_context(request: HttpRequest, agent: AgentProfile, conversation: Conversation):
    rows = selectors.conversation_thread(conversation=conversation)
    for row in rows:
        if row.message is not None:
            _decorate(row.message)
    return {"agent": agent, "conversation": conversation, "rows": rows}


def _canned(conversation: Conversation, responses: list[CannedResponse], user) -> list[dict]:
    """The canned responses for the composer (sent as JSON by `json_script`), placeholders
    filled for this conversation, so the browser needs no template logic."""
    return [
        {
            "shortcut": r.shortcut,
            "title": r.title,
            "body": fill_placeholders(r.body, conversation=conversation, user=user),
        }
        for r in responses
    ]


def _composer_context(request: HttpRequest, agent: AgentProfile, conversation: Conversation):
    kind = conversation.channel.kind
    principal = principal_for_user(request.user)
    responses = list(canned_responses_for(principal=principal, tenant_id=agent.tenant_id))
    return {
        "agent": agent,
        "conversation": conversation,
        "kind": kind,
        "is_email": kind in (InboxKind.EMAIL, InboxKind.WEBFORM, InboxKind.FAX),
        "is_sms": kind in SMS_KINDS,
        "is_plain": kind in PLAIN_KINDS,
        "can_reply": kind != InboxKind.POST,
        "reply_subject": _reply_subject(conversation.subject),
        "canned": responses,
        "canned_data": _canned(conversation, responses, request.user),
    }


def _reply_subject(subject: str) -> str:
    if not subject:
        return ""
    return subject if re.match(r"^(re|sv|odp|aw):", subject, re.IGNORECASE) else f"Re: {subject}"


# --- pages and fragments -----------------------------------------------------------------


@require_GET
@login_required
def conversation_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation view: header (status, assignee), the thread across channels, the
    composer, the contact and ticket panels, and the agent's work list."""
    agent = _agent(request)
    conversation = _conversation(request, agent, pk)
    principal = principal_for_user(request.user)
    if conversation.assignee_id == request.user.pk and conversation.unread_count:
        conversation_mark_read(conversation=conversation, actor=principal)
    context = _work_context(request, agent)
    context.update(page_context(principal, agent))
    context["current"] = conversation
    context.update(_header_context(request, agent, conversation))
    context.update(_thread_context(request, agent, conversation))
    context.update(_composer_context(request, agent, conversation))
    context["card"] = selectors.contact_card(
        principal=principal, contact_id=conversation.contact_id, tenant_id=agent.tenant_id
    )
    context["others"] = selectors.other_conversations(
        principal=principal, conversation=conversation
    )
    if conversation.ticket_id:
        ticket = selectors.ticket_for_panel(
            principal=principal, ticket_id=conversation.ticket_id, tenant_id=agent.tenant_id
        )
        if ticket is not None:
            context["ticket_panel"] = ticket_panel_context(agent, ticket)
    return render(request, "agent/inbox/conversation.html", context)


@require_GET
@login_required
def conversation_thread(request: HttpRequest, pk: int) -> HttpResponse:
    agent = _agent(request)
    conversation = _conversation(request, agent, pk)
    return render(
        request, "agent/inbox/_thread.html", _thread_context(request, agent, conversation)
    )


@require_GET
@login_required
def conversation_header(request: HttpRequest, pk: int) -> HttpResponse:
    agent = _agent(request)
    conversation = _conversation(request, agent, pk)
    return render(
        request, "agent/inbox/_header.html", _header_context(request, agent, conversation)
    )


def _header_error(request, agent, conversation, error: str) -> HttpResponse:
    context = _header_context(request, agent, conversation)
    context["error"] = error
    return render(request, "agent/inbox/_header.html", context, status=400)


@require_POST
@login_required
def conversation_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve, pend or reopen; answers the fresh header."""
    agent = _agent(request)
    conversation = _conversation(request, agent, pk)
    try:
        conversation_set_status(
            conversation=conversation,
            status=request.POST.get("status", ""),
            actor=principal_for_user(request.user),
        )
    except (ValidationError, PermissionDenied) as exc:
        message = " ".join(_error_messages(exc)) if isinstance(exc, ValidationError) else str(exc)
        return _header_error(request, agent, conversation, message)
    conversation = _conversation(request, agent, pk)
    response = render(
        request, "agent/inbox/_header.html", _header_context(request, agent, conversation)
    )
    response["HX-Trigger"] = "work-changed"
    return response


@require_POST
@login_required
def conversation_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign to an agent of the tenant (`assignee`: a user id, `me`, or empty to put it back
    in the queue); answers the fresh header."""
    agent = _agent(request)
    conversation = _conversation(request, agent, pk)
    raw = request.POST.get("assignee", "")
    assignees = {str(a.user_id): a.user for a in selectors.tenant_agents(tenant_id=agent.tenant_id)}
    if raw == "me":
        raw = str(request.user.pk)
    if raw and raw not in assignees:
        return _header_error(
            request, agent, conversation, _("That person is not an agent of this tenant.")
        )
    try:
        conversation_assign(
            conversation=conversation,
            assignee=assignees.get(raw),
            actor=principal_for_user(request.user),
        )
    except (ValidationError, PermissionDenied) as exc:
        message = " ".join(_error_messages(exc)) if isinstance(exc, ValidationError) else str(exc)
        return _header_error(request, agent, conversation, message)
    conversation = _conversation(request, agent, pk)
    response = render(
        request, "agent/inbox/_header.html", _header_context(request, agent, conversation)
    )
    response["HX-Trigger"] = "work-changed"
    return response


@require_POST
@login_required
def conversation_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a reply on the conversation's channel (`mode=reply`) or add an internal note
    (`mode=note`); answers the fresh thread. An empty text answers 400 and sends nothing."""
    agent = _agent(request)
    conversation = _conversation(request, agent, pk)
    principal = principal_for_user(request.user)
    text = request.POST.get("text", "")
    mode = request.POST.get("mode", "reply")
    error = ""
    if not text.strip():
        error = _("Write something first.")
    elif mode not in ("reply", "note"):
        error = _("Unknown kind of message.")
    elif mode == "reply" and conversation.channel.kind == InboxKind.POST:
        error = _("Letters are answered by post or on another channel; add a note instead.")
    if not error:
        try:
            if mode == "note":
                conversation_note_add(conversation=conversation, actor=principal, text=text)
            else:
                cc = [a.strip() for a in request.POST.get("cc", "").split(",") if a.strip()]
                message_reply(
                    conversation=conversation,
                    actor=principal,
                    text=text,
                    subject=request.POST.get("subject", "").strip(),
                    cc=cc,
                    attachments=request.FILES.getlist("attachments") or None,
                )
        except (ValidationError, PermissionDenied) as exc:
            error = " ".join(_error_messages(exc)) if isinstance(exc, ValidationError) else str(exc)
    context = _thread_context(request, agent, conversation)
    context["error"] = error
    return render(request, "agent/inbox/_thread.html", context, status=400 if error else 200)


@require_POST
@login_required
def conversation_message_retry(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    """Send a failed reply again (the same message, never a copy); answers the fresh thread."""
    agent = _agent(request)
    conversation = _conversation(request, agent, pk)
    message = conversation.messages.filter(pk=message_id).first()
    if message is None:
        raise Http404
    error = ""
    try:
        message_retry(message=message, actor=principal_for_user(request.user))
    except (ValidationError, PermissionDenied) as exc:
        error = " ".join(_error_messages(exc)) if isinstance(exc, ValidationError) else str(exc)
    context = _thread_context(request, agent, conversation)
    context["error"] = error
    return render(request, "agent/inbox/_thread.html", context, status=400 if error else 200)
