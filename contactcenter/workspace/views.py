"""The agent workspace (/agent/) and the supervisor wallboard (/supervisor/).

Thin views: reads come from contactcenter.workspace.selectors, writes from crm's services.
Each page is made of fragments that have their own URL; htmx swaps a fragment after a button
press, and static/js/live.js re-fetches it when a live event says it changed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels_inbox.models import ConversationStatus, InboxKind
from contactcenter.workspace import selectors
from crm.models import AgentProfile, Offer, Presence, Ticket, TicketPriority, TicketStatus
from crm.services.contacts import contact_merge, contact_update
from crm.services.presence import agent_set_presence
from crm.services.routing import RoutingError, offer_accept, offer_decline
from crm.services.tickets import (
    ALLOWED_TRANSITIONS,
    TransitionNotAllowed,
    ticket_transition,
    ticket_update,
)
from crm.tenancy import principal_for_user

# The states an agent may pick; BUSY is set by the system while on a call.
AGENT_PRESENCES = (
    Presence.AVAILABLE,
    Presence.BREAK,
    Presence.AFTER_CALL_WORK,
    Presence.OFFLINE,
)
BREAK_REASONS = (
    gettext_lazy("Lunch"),
    gettext_lazy("Coffee"),
    gettext_lazy("Training"),
    gettext_lazy("Meeting"),
)


def _tenant_param(request: HttpRequest) -> int | None:
    value = request.GET.get("tenant") or request.POST.get("tenant")
    return int(value) if value and value.isdigit() else None


def _agent(request: HttpRequest) -> AgentProfile:
    principal = principal_for_user(request.user)
    agent = selectors.agent_profile_for(principal=principal, tenant_id=_tenant_param(request))
    if agent is None:
        raise PermissionDenied(_("Only agents have a workspace."))
    return agent


WORK_STATUSES = set(TicketStatus.values) | set(ConversationStatus.values)


def _filters(request: HttpRequest) -> selectors.WorkFilter:
    """The work list's filters from the query string; unknown values are ignored."""
    queue = request.GET.get("queue", "")
    status = request.GET.get("status", "")
    channel = request.GET.get("channel", "")
    return selectors.WorkFilter(
        queue_id=int(queue) if queue.isdigit() and len(queue) < 19 else None,
        status=status if status in WORK_STATUSES else "",
        channel=channel if channel in InboxKind.values else "",
        tag=request.GET.get("tag", "").strip()[:60],
        search=request.GET.get("q", "").strip()[:100],
    )


def work_list_query(filters: selectors.WorkFilter, tenant_id: int) -> str:
    """The query string that reproduces the filters (for the live re-fetch URL)."""
    params = {"tenant": tenant_id}
    for key, value in (
        ("queue", filters.queue_id),
        ("status", filters.status),
        ("channel", filters.channel),
        ("tag", filters.tag),
        ("q", filters.search),
    ):
        if value:
            params[key] = value
    return urlencode(params)


def _work_context(request: HttpRequest, agent: AgentProfile) -> dict:
    principal = principal_for_user(request.user)
    filters = _filters(request)
    offers = selectors.pending_offers_for(agent=agent)
    offered = {o.conversation.pk for o in offers if o.conversation is not None}
    waiting = selectors.waiting_conversations_for(principal=principal, agent=agent, filters=filters)
    return {
        "agent": agent,
        "filters": filters,
        "work_query": work_list_query(filters, agent.tenant_id),
        "offers": offers,
        # An offered conversation shows once, as the offer.
        "waiting": [c for c in waiting if c.pk not in offered],
        "conversations": selectors.conversations_for_agent(
            principal=principal, agent=agent, filters=filters
        ),
        "assigned": selectors.assigned_work_for(agent=agent, filters=filters),
        "tickets": list(
            selectors.open_tickets_for(principal=principal, agent=agent, filters=filters)
        ),
        "now": timezone.now(),
    }


@require_GET
@login_required
def agent_workspace(request: HttpRequest) -> HttpResponse:
    agent = _agent(request)
    principal = principal_for_user(request.user)
    context = _work_context(request, agent)
    context.update(page_context(principal, agent))
    return render(request, "agent/workspace.html", context)


def page_context(principal, agent: AgentProfile) -> dict:
    """What every full workspace page shows around its panels: presence and filter choices."""
    return {
        "presences": AGENT_PRESENCES,
        "break_reasons": BREAK_REASONS,
        "queues": list(selectors.agent_queues(principal=principal, agent=agent)),
        "ticket_statuses": TicketStatus.choices,
        "conversation_statuses": ConversationStatus.choices,
        "channel_kinds": InboxKind.choices,
        "simulated": settings.TWILIO_SIMULATED,
    }


@require_GET
@login_required
def agent_work(request: HttpRequest) -> HttpResponse:
    """The work list fragment: offers, assigned items and open tickets."""
    agent = _agent(request)
    return render(request, "agent/_work.html", _work_context(request, agent))


@require_http_methods(["GET", "POST"])
@login_required
def agent_presence(request: HttpRequest) -> HttpResponse:
    """GET: the presence fragment (re-fetched live when a supervisor or the system changes the
    agent's presence). POST: set the agent's own presence; answers the fragment and tells the
    page to refresh its work list (becoming available may bring offers at once)."""
    agent = _agent(request)
    if request.method == "GET":
        return render(
            request,
            "agent/_presence.html",
            {"agent": agent, "presences": AGENT_PRESENCES, "break_reasons": BREAK_REASONS},
        )
    presence = request.POST.get("presence", "")
    if presence not in AGENT_PRESENCES:
        return HttpResponse(_("Unknown presence."), status=400)
    reason = request.POST.get("reason", "").strip()[:100] if presence == Presence.BREAK else ""
    agent = agent_set_presence(
        agent=agent,
        presence=presence,
        reason=reason,
        actor=principal_for_user(request.user),
    )
    response = render(
        request,
        "agent/_presence.html",
        {"agent": agent, "presences": AGENT_PRESENCES, "break_reasons": BREAK_REASONS},
    )
    response["HX-Trigger"] = "work-changed"
    return response


@require_POST
@login_required
def agent_offer_respond(request: HttpRequest, offer_id: int, action: str) -> HttpResponse:
    """Accept or decline one of the agent's own offers, then answer the fresh work list."""
    agent = _agent(request)
    offer = get_object_or_404(Offer, pk=offer_id, agent=agent)
    error = ""
    try:
        if action == "accept":
            offer_accept(offer=offer, agent=agent)
        elif action == "decline":
            offer_decline(offer=offer, agent=agent)
        else:
            raise Http404
    except (RoutingError, ValidationError) as exc:
        error = str(exc)
    context = _work_context(request, agent)
    context["error"] = error
    return render(request, "agent/_work.html", context)


@require_GET
@login_required
def agent_contact(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The contact panel: details, identities and the timeline, newest first."""
    agent = _agent(request)
    card = selectors.contact_card(
        principal=principal_for_user(request.user),
        contact_id=contact_id,
        tenant_id=agent.tenant_id,
    )
    if card is None:
        raise Http404
    return render(request, "agent/_contact.html", {"card": card, "agent": agent})


# --- contact panel: edit and merge ---------------------------------------------------------


def _card(request: HttpRequest, agent: AgentProfile, contact_id: int) -> selectors.ContactCard:
    card = selectors.contact_card(
        principal=principal_for_user(request.user),
        contact_id=contact_id,
        tenant_id=agent.tenant_id,
    )
    if card is None:
        raise Http404
    return card


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _error_messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{field}: {msg}" for field, msgs in exc.message_dict.items() for msg in msgs]
    return list(exc.messages)


@require_http_methods(["GET", "POST"])
@login_required
def agent_contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    """GET: the contact's edit form in the panel. POST: save through `contact_update`; bad
    input answers 400 with the form, the reasons and what was typed (nothing is lost)."""
    agent = _agent(request)
    card = _card(request, agent, contact_id)
    contact = card.contact
    definitions = selectors.attribute_definitions(tenant_id=agent.tenant_id)
    context = {"card": card, "agent": agent, "definitions": definitions, "errors": []}
    if request.method == "GET":
        context["values"] = selectors.contact_form_values(card, definitions)
        return render(request, "agent/inbox/_contact_edit.html", context)
    post = request.POST
    values = {
        "first_name": post.get("first_name", "").strip(),
        "last_name": post.get("last_name", "").strip(),
        "language": post.get("language", "").strip(),
        "time_zone": post.get("time_zone", "").strip(),
        "phones": post.get("phones", ""),
        "emails": post.get("emails", ""),
        "tags": post.get("tags", ""),
        "attributes": {d.key: post.get(f"attr_{d.key}", "").strip() for d in definitions},
    }
    attributes = dict(contact.custom_attributes or {})
    for key, value in values["attributes"].items():
        if value:
            attributes[key] = value
        else:
            attributes.pop(key, None)
    try:
        contact_update(
            contact=contact,
            actor=principal_for_user(request.user),
            first_name=values["first_name"],
            last_name=values["last_name"],
            language=values["language"],
            time_zone=values["time_zone"],
            phones=_lines(values["phones"]),
            emails=_lines(values["emails"]),
            tags=_lines(values["tags"]),
            custom_attributes=attributes,
        )
    except ValidationError as exc:
        context.update(values=values, errors=_error_messages(exc))
        return render(request, "agent/inbox/_contact_edit.html", context, status=400)
    return render(
        request, "agent/_contact.html", {"card": _card(request, agent, contact_id), "agent": agent}
    )


@require_POST
@login_required
def agent_contact_merge(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Merge a duplicate (named by its email, phone or number) into this contact."""
    agent = _agent(request)
    card = _card(request, agent, contact_id)
    principal = principal_for_user(request.user)
    other = request.POST.get("duplicate", "").strip()
    source = selectors.contact_lookup(principal=principal, tenant_id=agent.tenant_id, text=other)
    error = ""
    if source is None:
        error = _("No contact of this tenant matches “%(text)s”.") % {"text": other}
    else:
        try:
            contact_merge(source=source, target=card.contact, actor=principal)
        except ValidationError as exc:
            error = " ".join(_error_messages(exc))
    context = {"card": _card(request, agent, contact_id), "agent": agent, "merge_error": error}
    return render(request, "agent/_contact.html", context, status=400 if error else 200)


# --- ticket panel ------------------------------------------------------------------------


def ticket_panel_context(agent: AgentProfile, ticket: Ticket) -> dict:
    """What the ticket panel shows: the statuses crm allows next, priorities, assignees."""
    return {
        "ticket": ticket,
        "agent": agent,
        "next_statuses": [
            (value, TicketStatus(value).label)
            for value in sorted(ALLOWED_TRANSITIONS.get(ticket.status, ()))
        ],
        "priorities": TicketPriority.choices,
        "assignees": selectors.tenant_agents(tenant_id=agent.tenant_id),
        "errors": [],
        "now": timezone.now(),
    }


def _ticket_context(request: HttpRequest, agent: AgentProfile, ticket_id: int) -> dict:
    ticket = selectors.ticket_for_panel(
        principal=principal_for_user(request.user), ticket_id=ticket_id, tenant_id=agent.tenant_id
    )
    if ticket is None:
        raise Http404
    return ticket_panel_context(agent, ticket)


@require_http_methods(["GET", "POST"])
@login_required
def agent_ticket(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The ticket panel. POST changes status (by crm's allowed transitions), priority,
    assignee or due time; what is not allowed answers 400 with the reason."""
    agent = _agent(request)
    context = _ticket_context(request, agent, ticket_id)
    if request.method == "GET":
        return render(request, "agent/ticket/_panel.html", context)
    ticket = context["ticket"]
    principal = principal_for_user(request.user)
    errors: list[str] = []
    try:
        with transaction.atomic():
            fields = _ticket_fields(request, context, errors)
            if errors:
                raise ValidationError(errors)
            if fields:
                ticket_update(ticket=ticket, actor=principal, **fields)
            status = request.POST.get("status", "")
            if status and status != ticket.status:
                ticket_transition(ticket=ticket, status=status, actor=principal)
    except TransitionNotAllowed as exc:
        errors = [str(exc)]
    except ValidationError as exc:
        errors = errors or _error_messages(exc)
    fresh = _ticket_context(request, agent, ticket_id)
    fresh["errors"] = errors
    return render(request, "agent/ticket/_panel.html", fresh, status=400 if errors else 200)


def _ticket_fields(request: HttpRequest, context: dict, errors: list[str]) -> dict:
    """The changed plain fields of the ticket form, as `ticket_update` takes them."""
    ticket = context["ticket"]
    post = request.POST
    fields: dict = {}
    if "priority" in post:
        raw = post["priority"]
        if not raw.isdigit() or int(raw) not in TicketPriority.values:
            errors.append(_("Unknown priority."))
        elif int(raw) != ticket.priority:
            fields["priority"] = int(raw)
    if "assignee" in post:
        raw = post["assignee"]
        users = {str(a.user_id): a.user for a in context["assignees"]}
        if raw and raw not in users:
            errors.append(_("That person is not an agent of this tenant."))
        else:
            user = users.get(raw)
            if (user.pk if user else None) != ticket.assignee_id:
                fields["assignee"] = user
    if "due_at" in post:
        raw = post["due_at"].strip()
        due = None
        if raw:
            parsed = parse_datetime(raw)
            if parsed is None:
                errors.append(_("The due time is not a valid date and time."))
            else:
                due = (
                    timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
                )  # typed in the agent's own time zone
        if not errors and due != ticket.due_at:
            fields["due_at"] = due
    return fields
