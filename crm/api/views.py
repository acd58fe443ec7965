"""API endpoints under /api/v1/. Thin: scoping comes from `TenantScopedViewSet`, rules from the
services in `crm.services`, reads from `crm.selectors`."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet, prefetch_related_objects
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api import filters, serializers
from crm.api.errors import Conflict
from crm.api.pagination import FixedOrderCursorPagination
from crm.api.permissions import TenantRolePermission
from crm.api.throttling import AnonRateThrottle, PrincipalRateThrottle
from crm.api.viewsets import TenantScopedViewSet, tenant_for_write
from crm.audit import audit_record
from crm.models import AgentProfile, Contact, Note, Organization, Queue, Role, Ticket
from crm.selectors.agents import agents_for, presence_log_for, queues_for
from crm.selectors.contacts import (
    contact_by_email,
    contact_by_phone,
    contacts_for,
    organizations_for,
)
from crm.selectors.search import search
from crm.selectors.tickets import notes_for_ticket, tickets_for
from crm.selectors.timeline import timeline_for_contact
from crm.services.contacts import contact_create, contact_merge, contact_update
from crm.services.organizations import (
    organization_create,
    organization_delete,
    organization_update,
)
from crm.services.presence import agent_set_presence
from crm.services.privacy import contact_erase, contact_export
from crm.services.tickets import (
    TransitionNotAllowed,
    note_add,
    ticket_create,
    ticket_transition,
    ticket_update,
)
from crm.tenancy import principal_for_request

ERRORS = {
    400: OpenApiResponse(serializers.ErrorSerializer, description="Invalid input."),
    401: OpenApiResponse(serializers.ErrorSerializer, description="No, unknown or revoked key."),
    403: OpenApiResponse(serializers.ErrorSerializer, description="Role does not allow this."),
    404: OpenApiResponse(serializers.ErrorSerializer, description="Not found in your tenants."),
    409: OpenApiResponse(serializers.ErrorSerializer, description="Conflicts with the state."),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in (401, 403, 404, *codes)}


def crud_schema(serializer, update_serializer=None, **summaries: str):
    """`extend_schema_view` for a viewset's standard actions, given one summary per action it
    has (`list="List contacts"`, `create=...`). Adds what each action takes and answers,
    including its error answers, so every endpoint documents them alike. `update_serializer`
    is what update and partial_update accept (the tenant is fixed once a row exists)."""
    shapes = {
        "list": {"responses": {200: serializer(many=True), 400: ERRORS[400], 401: ERRORS[401]}},
        "retrieve": {"responses": {200: serializer, **errors()}},
        "create": {"request": serializer, "responses": {201: serializer, **errors(400)}},
        "update": {
            "request": update_serializer or serializer,
            "responses": {200: serializer, **errors(400)},
        },
        "destroy": {"responses": {204: None, **errors()}},
    }
    shapes["partial_update"] = shapes["update"]
    return extend_schema_view(
        **{
            action_name: extend_schema(summary=summary, **shapes[action_name])
            for action_name, summary in summaries.items()
        }
    )


# --- organizations ---


@crud_schema(
    serializers.OrganizationSerializer,
    serializers.OrganizationUpdateSerializer,
    list="List organizations",
    retrieve="Get an organization",
    create="Create an organization",
    update="Replace an organization",
    partial_update="Change an organization",
    destroy="Delete an organization (managers; its contacts are kept, unlinked)",
)
class OrganizationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """Companies contacts belong to."""

    queryset = Organization.objects.all()
    serializer_class = serializers.OrganizationSerializer
    update_serializer_class = serializers.OrganizationUpdateSerializer
    filterset_class = filters.OrganizationFilter
    ordering = ("name", "id")
    ordering_fields = ["name", "created_at", "updated_at"]

    # Agents keep organizations up to date; removing one unlinks all its contacts, which is a
    # manager's decision (as erasing a contact is).
    write_roles = {"destroy": Role.MANAGER}

    def base_queryset(self) -> QuerySet:
        return organizations_for(self.principal).select_related("tenant")

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        tenant = self.tenant_for_write(data.pop("tenant", None))
        serializer.instance = organization_create(tenant=tenant, actor=self.principal, **data)

    def perform_update(self, serializer) -> None:
        serializer.instance = organization_update(
            organization=serializer.instance, actor=self.principal, **serializer.validated_data
        )

    def perform_destroy(self, instance: Organization) -> None:
        organization_delete(organization=instance, actor=self.principal)


# --- queues and agents ---


@crud_schema(serializers.QueueSerializer, list="List queues", retrieve="Get a queue")
class QueueViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Where waiting work lines up (configured by managers in the admin)."""

    queryset = Queue.objects.all()
    serializer_class = serializers.QueueSerializer
    ordering = ("name", "id")
    ordering_fields = ["name", "priority", "created_at"]

    def base_queryset(self) -> QuerySet:
        return queues_for(self.principal).select_related("tenant")


@crud_schema(
    serializers.AgentSerializer,
    list="List agents with their presence, skills and queues",
    retrieve="Get an agent",
)
class AgentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The people who take the work, and their presence."""

    queryset = AgentProfile.objects.all()
    serializer_class = serializers.AgentSerializer
    filterset_class = filters.AgentFilter
    ordering = ("id",)
    ordering_fields = ["id", "presence_changed_at"]

    def base_queryset(self) -> QuerySet:
        if self.action == "presence_log":
            return agents_for(self.principal).prefetch_related(None)  # only the log is shown
        return agents_for(self.principal).select_related("tenant")

    @extend_schema(
        summary="Set an agent's presence",
        description="Agents set their own presence; supervisors and managers anyone's in "
        "their tenant.",
        request=serializers.PresenceChangeSerializer,
        responses={200: serializers.AgentSerializer, **errors(400)},
    )
    @action(detail=True, methods=["post"])
    def presence(self, request: Request, pk: str | None = None) -> Response:
        agent = self.get_object()
        payload = serializers.PresenceChangeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        agent_set_presence(
            agent=agent,
            presence=payload.validated_data["presence"],
            reason=payload.validated_data["reason"],
            actor=self.principal,
        )
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="An agent's presence log, newest first",
        responses={200: serializers.PresenceLogSerializer(many=True), **errors()},
    )
    @action(detail=True, methods=["get"], url_path="presence-log")
    def presence_log(self, request: Request, pk: str | None = None) -> Response:
        agent = self.get_object()
        paginator = FixedOrderCursorPagination(("-started_at", "-id"))
        rows = presence_log_for(principal=self.principal, agent=agent)
        page = paginator.paginate_queryset(rows, request, view=self)
        data = serializers.PresenceLogSerializer(page, many=True).data
        return paginator.get_paginated_response(data)


# --- contacts ---


def _service_fields(data: dict) -> dict:
    """Serializer output → service keyword arguments (handles as (kind, value) pairs)."""
    fields = dict(data)
    fields.pop("tenant", None)
    if "handles" in fields:
        fields["handles"] = [(h["kind"], h["value"]) for h in fields["handles"]]
    return fields


@crud_schema(
    serializers.ContactSerializer,
    serializers.ContactUpdateSerializer,
    list="List contacts",
    retrieve="Get a contact with its identities",
    create="Create a contact",
    update="Replace a contact",
    partial_update="Change a contact",
)
class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """Customers, with the phone numbers, email addresses and social handles that reach them."""

    # DELETE erases (anonymises) rather than removes: see `crm.services.privacy.contact_erase`.

    queryset = Contact.objects.all()
    serializer_class = serializers.ContactSerializer
    update_serializer_class = serializers.ContactUpdateSerializer
    filterset_class = filters.ContactFilter
    ordering = ("-created_at", "-id")
    ordering_fields = ["created_at", "updated_at", "last_name"]

    # Erasing personal data, and handing all of it out at once, are a manager's decisions.
    write_roles = {"destroy": Role.MANAGER}
    read_roles = {"export": Role.MANAGER}

    def base_queryset(self) -> QuerySet:
        # Lists leave merged contacts out unless `merged` is asked about; a merged contact is
        # still reachable by id, and its `merged_into` says where the record went.
        include_merged = self.action != "list" or "merged" in self.request.query_params
        queryset = contacts_for(self.principal, include_merged=include_merged)
        if self.action in ("timeline", "merge", "destroy", "export"):
            return queryset.prefetch_related(None)  # the contact itself is not rendered
        return queryset.select_related("tenant")

    def _viewed(self, contact: Contact) -> None:
        # Reading one contact's personal data is recorded, as `contact_get` does for the UI.
        audit_record(actor=self.principal, action="view", obj=contact)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        contact = self.get_object()
        self._viewed(contact)
        return Response(self.get_serializer(contact).data)

    @extend_schema(
        summary="Erase a contact (managers)",
        description="Identities are deleted and names, notes and ticket texts anonymised; "
        "tickets and timeline entries stay (anonymised) so statistics still add up. The "
        "contact remains, with `erased_at` set.",
        responses={204: None, **errors()},
    )
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        contact_erase(contact=self.get_object(), actor=self.principal)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Everything held on a contact, as JSON (managers)",
        description="The contact's fields, identities, tags, organization, tickets with their "
        "notes, notes, timeline and merges: what a data-protection access request is answered "
        "with. Recorded in the audit trail as an export.",
        responses={200: OpenApiTypes.OBJECT, **errors()},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def export(self, request: Request, pk: str | None = None) -> Response:
        return Response(contact_export(contact=self.get_object(), actor=self.principal))

    def _fresh(self, contact: Contact) -> dict:
        # Re-read through the scoped queryset so identities and tags render without N+1.
        return serializers.ContactSerializer(
            self.get_queryset().get(pk=contact.pk), context=self.get_serializer_context()
        ).data

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant = self.tenant_for_write(serializer.validated_data.get("tenant"))
        contact = contact_create(
            tenant=tenant, actor=self.principal, **_service_fields(serializer.validated_data)
        )
        return Response(self._fresh(contact), status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        contact = self.get_object()
        serializer = self.get_serializer(
            contact, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        contact_update(
            contact=contact, actor=self.principal, **_service_fields(serializer.validated_data)
        )
        return Response(self._fresh(contact))

    @extend_schema(
        summary="Find the contact reached at a phone number or email address",
        parameters=[
            OpenApiParameter("phone", str, description="Any common format; normalised to E.164."),
            OpenApiParameter("email", str),
            OpenApiParameter(
                "tenant", str, description="Slug or id; needed only when you serve several."
            ),
        ],
        responses={200: serializers.ContactSerializer, **errors(400)},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def lookup(self, request: Request) -> Response:
        query = serializers.ContactLookupSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        tenant = tenant_for_write(
            self.principal, request.query_params.get("tenant"), minimum_role=Role.VIEWER
        )
        phone, email = query.validated_data.get("phone"), query.validated_data.get("email")
        try:
            if phone:
                contact = contact_by_phone(tenant_id=tenant.pk, phone=phone)
            else:
                contact = contact_by_email(tenant_id=tenant.pk, email=email)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({"phone" if phone else "email": exc.messages}) from exc
        if contact is None:
            raise exceptions.NotFound(_("No contact is reached at that address."))
        self._viewed(contact)
        return Response(self._fresh(contact))

    @extend_schema(
        summary="Merge another contact into this one",
        description="Every identity, ticket, note and timeline entry of `source` moves to this "
        "contact; `source` is kept, marked as merged into this one.",
        request=serializers.ContactMergeRequestSerializer,
        responses={200: serializers.ContactMergeSerializer, **errors(400)},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()
        payload = serializers.ContactMergeRequestSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        merge = contact_merge(
            source=payload.validated_data["source"], target=target, actor=self.principal
        )
        return Response(serializers.ContactMergeSerializer(merge).data)

    @extend_schema(
        summary="The contact's timeline, newest first",
        responses={200: serializers.TimelineEntrySerializer(many=True), **errors()},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        contact = self.get_object()
        paginator = FixedOrderCursorPagination(("-occurred_at", "-id"))
        page = paginator.paginate_queryset(
            timeline_for_contact(contact=contact), request, view=self
        )
        data = serializers.TimelineEntrySerializer(page, many=True).data
        return paginator.get_paginated_response(data)


# --- tickets ---


@crud_schema(
    serializers.TicketSerializer,
    serializers.TicketUpdateSerializer,
    list="List tickets",
    retrieve="Get a ticket",
    create="Open a ticket",
    update="Replace a ticket's fields (not its status)",
    partial_update="Change a ticket's fields (not its status)",
)
class TicketViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TenantScopedViewSet,
):
    """Tickets. The status changes only through `transition`, which enforces the allowed moves."""

    # No DELETE: a ticket that should disappear is closed.

    queryset = Ticket.objects.all()
    serializer_class = serializers.TicketSerializer
    update_serializer_class = serializers.TicketUpdateSerializer
    filterset_class = filters.TicketFilter
    ordering = ("-created_at", "-id")
    # Only non-null columns: a cursor cannot point "after" a null value.
    ordering_fields = ["created_at", "updated_at", "priority", "number"]

    def base_queryset(self) -> QuerySet:
        if self.action == "notes":
            return tickets_for(self.principal).prefetch_related(None)  # only notes are shown
        return tickets_for(self.principal).select_related("tenant")

    def _fresh(self, ticket: Ticket) -> dict:
        return serializers.TicketSerializer(
            self.get_queryset().get(pk=ticket.pk), context=self.get_serializer_context()
        ).data

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        tenant = self.tenant_for_write(fields.pop("tenant", None))
        ticket = ticket_create(tenant=tenant, actor=self.principal, **fields)
        return Response(self._fresh(ticket), status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        ticket = self.get_object()
        serializer = self.get_serializer(
            ticket, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        ticket_update(ticket=ticket, actor=self.principal, **serializer.validated_data)
        return Response(self._fresh(ticket))

    @extend_schema(
        summary="Move a ticket to another status",
        description="Answers 409 with the statuses the ticket may move to when the move is "
        "not allowed.",
        request=serializers.TicketTransitionSerializer,
        responses={200: serializers.TicketSerializer, **errors(400, 409)},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        payload = serializers.TicketTransitionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            ticket_transition(
                ticket=ticket, status=payload.validated_data["status"], actor=self.principal
            )
        except TransitionNotAllowed as exc:
            raise Conflict(str(exc), code="transition_not_allowed", allowed=exc.allowed) from exc
        return Response(self._fresh(ticket))

    @extend_schema(
        methods=["GET"],
        summary="The ticket's internal notes, newest first",
        responses={200: serializers.NoteSerializer(many=True), **errors()},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add an internal note to the ticket",
        request=serializers.NoteSerializer,
        responses={201: serializers.NoteSerializer, **errors(400)},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def notes(self, request: Request, pk: str | None = None) -> Response:
        ticket = self.get_object()
        if request.method == "POST":
            payload = serializers.NoteSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            note = note_add(
                actor=self.principal, body=payload.validated_data["body"], ticket=ticket
            )
            note = Note.objects.select_related("author").get(pk=note.pk)
            return Response(serializers.NoteSerializer(note).data, status=status.HTTP_201_CREATED)
        paginator = FixedOrderCursorPagination(("-created_at", "-id"))
        page = paginator.paginate_queryset(notes_for_ticket(ticket=ticket), request, view=self)
        return paginator.get_paginated_response(serializers.NoteSerializer(page, many=True).data)


# --- search ---


class SearchView(APIView):
    permission_classes = [TenantRolePermission]
    throttle_classes = [AnonRateThrottle, PrincipalRateThrottle]

    @extend_schema(
        summary="Search contacts, organizations and tickets",
        parameters=[
            OpenApiParameter("q", str, required=True, description="What to look for."),
            OpenApiParameter("limit", int, description="At most this many hits (1-100)."),
        ],
        responses={200: serializers.SearchResultSerializer, **errors(400)},
    )
    def get(self, request: Request) -> Response:
        query = serializers.SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        results = search(
            principal=principal_for_request(request),
            query=query.validated_data["q"],
            limit=query.validated_data["limit"],
        )
        # One query per kind for the tenants' slugs (and the tickets' tags), not one per row.
        for rows in results.values():
            prefetch_related_objects(rows, "tenant")
        prefetch_related_objects(results["tickets"], "tags")
        body = {"query": query.validated_data["q"], **results}
        return Response(serializers.SearchResultSerializer(body).data)
