"""REST API of telephony under /api/v1/telephony/: click-to-call and recording playback.

Built on crm's API base: `TenantScopedViewSet` (another tenant's rows answer 404), role checks
(`TenantRolePermission`: viewers only read) and crm's error format (400 with the reason).
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.views import errors
from crm.api.viewsets import TenantScopedViewSet
from crm.audit import audit_record
from crm.models import AgentProfile, Contact, ContactIdentity, IdentityKind, Role, Tenant, Ticket
from crm.tenancy import scope
from telephony.models import Call, Recording
from telephony.services.outbound import outbound_call_create
from telephony.tasks import outbound_place


def _phone_of(contact: Contact | None) -> str:
    """The contact's primary phone number (else its first one)."""
    if contact is None:
        return ""
    identity = (
        ContactIdentity.objects.filter(contact=contact, kind=IdentityKind.PHONE)
        .order_by("-is_primary", "id")
        .first()
    )
    return identity.value if identity is not None else ""


class ClickToCallSerializer(serializers.Serializer):
    contact = serializers.IntegerField(required=False, help_text="Contact to call")
    phone = serializers.CharField(
        required=False, allow_blank=True, max_length=40, help_text="Number; default the contact's"
    )
    ticket = serializers.IntegerField(required=False, help_text="Ticket the call is about")
    tenant = serializers.CharField(
        required=False, allow_blank=True, help_text="Slug or id; needed only without a contact"
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("contact") and not attrs.get("phone") and not attrs.get("ticket"):
            raise serializers.ValidationError(_("Give a contact, a ticket or a phone number."))
        return attrs


class OutboundCallSerializer(serializers.ModelSerializer):
    ticket = serializers.SerializerMethodField()
    status = serializers.CharField(read_only=True, help_text="Twilio's call status")
    direction = serializers.CharField(read_only=True, help_text="outbound-api")

    class Meta:
        model = Call
        fields = [
            "id",
            "tenant",
            "direction",
            "from_number",
            "to_number",
            "status",
            "contact",
            "agent",
            "ticket",
            "started_at",
        ]

    def get_ticket(self, call: Call) -> int | None:
        outbound = getattr(call, "outbound", None)
        return outbound.ticket_id if outbound is not None else None


class OutboundCallViewSet(TenantScopedViewSet):
    """Click-to-call: the agent's browser rings first, then the customer is dialled."""

    queryset = Call.objects.select_related("outbound")
    serializer_class = OutboundCallSerializer
    write_role = Role.AGENT

    def _scoped(self, model, pk: int | None):
        if pk is None:
            return None
        row = scope(model.objects.all(), self.principal).filter(pk=pk).first()
        if row is None:
            raise exceptions.NotFound()
        return row

    def _tenant(self, contact: Contact | None, ticket: Ticket | None, value: str) -> Tenant:
        if contact is not None and ticket is not None and contact.tenant_id != ticket.tenant_id:
            raise exceptions.ValidationError({"ticket": [_("Not the contact's tenant.")]})
        row = contact or ticket
        if row is None:
            return self.tenant_for_write(value or None)
        if not self.principal.has_role(row.tenant_id, Role.AGENT):
            raise exceptions.PermissionDenied(_("Your role in this tenant does not allow this."))
        return Tenant.objects.get(pk=row.tenant_id)

    @extend_schema(
        summary="Call a contact from the agent's browser (click-to-call)",
        request=ClickToCallSerializer,
        responses={201: OutboundCallSerializer, **errors(400)},
    )
    def create(self, request: Request) -> Response:
        payload = ClickToCallSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        contact = self._scoped(Contact, data.get("contact"))
        ticket = self._scoped(Ticket, data.get("ticket"))
        if contact is None and ticket is not None and ticket.contact_id is not None:
            contact = Contact.objects.get(pk=ticket.contact_id)
        tenant = self._tenant(contact, ticket, data.get("tenant", ""))
        agent = AgentProfile.objects.filter(tenant=tenant, user=self.principal.user).first()
        if agent is None:
            raise exceptions.ValidationError(
                {"non_field_errors": [_("You are not an agent of this tenant.")]}
            )
        number = data.get("phone") or _phone_of(contact)
        if not number:
            raise exceptions.ValidationError({"phone": [_("The contact has no phone number.")]})
        with transaction.atomic():
            call = outbound_call_create(
                tenant=tenant,
                agent=agent,
                number=number,
                contact=contact,
                ticket=ticket,
                requested_by=self.principal,
            )
            # Never in the request: the provider is asked by a Celery task after commit.
            transaction.on_commit(lambda: outbound_place.delay(call_id=call.pk))
        call = Call.objects.select_related("outbound").get(pk=call.pk)
        return Response(self.get_serializer(call).data, status=status.HTTP_201_CREATED)


class RecordingViewSet(TenantScopedViewSet):
    """Call recordings; the audio stays at the provider."""

    queryset = Recording.objects.all()
    read_roles = {"play": Role.AGENT}

    @extend_schema(
        summary="Play a recording (redirects to the provider's MP3; logged)",
        responses={302: OpenApiResponse(description="Redirect to the audio"), **errors()},
    )
    @action(detail=True, methods=["get"])
    def play(self, request: Request, pk: str | None = None) -> HttpResponseRedirect:
        recording = self.get_object()
        if not recording.recording_url:
            raise exceptions.NotFound(_("This recording is not available yet."))
        audit_record(
            actor=self.principal,
            action="view",
            obj=recording,
            changes={"call_id": recording.call_id, "played": True},
        )
        url = recording.recording_url
        return HttpResponseRedirect(url if url.endswith(".mp3") else url + ".mp3")
