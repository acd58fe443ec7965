"""REST API for the agent in a call: hold, resume, mute, transfer, wrap-up.

Mounted at /api/v1/calls/<id>/<action>/. Another tenant's call answers 404; only the call's
agent or a supervisor (or manager) of its tenant may act (else 403); bad input answers 400 and
acting on a call that ended (or is not in the needed state) 409. The provider is driven by a
Celery task after the request commits, never inside it (see `telephony.services.incall`).
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.errors import Conflict
from crm.api.serializers import ErrorSerializer
from crm.api.viewsets import TenantScopedViewSet
from crm.models import AgentProfile, Queue, Role, Ticket
from telephony.models import Call, CallEvent
from telephony.services import incall, warm_transfer

# The shared error body (crm.api.errors) for every refusal.
ERRORS = dict.fromkeys((400, 401, 403, 404, 409), ErrorSerializer)


class CallStateSerializer(serializers.ModelSerializer):
    """Where the call stands after the request (the provider follows within a moment)."""

    # Plain strings: Twilio's status names (CallStatus) and our outcomes; as enums they would
    # collide with other "status" enums in the schema.
    status = serializers.CharField(read_only=True)
    outcome = serializers.CharField(read_only=True)
    on_hold = serializers.SerializerMethodField()
    disposition = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "status",
            "agent",
            "queue",
            "contact",
            "on_hold",
            "hold_seconds",
            "wrapup_seconds",
            "disposition",
            "wrapup_note",
            "ticket",
            "outcome",
        ]
        read_only_fields = fields

    def get_on_hold(self, call: Call) -> bool:
        return call.hold_started_at is not None


class MuteSerializer(serializers.Serializer):
    muted = serializers.BooleanField(default=True)


class TransferSerializer(serializers.Serializer):
    """Exactly one target: an agent (id), a queue (id) or an external number (E.164)."""

    to_agent = serializers.IntegerField(required=False, min_value=1)
    to_queue = serializers.IntegerField(required=False, min_value=1)
    to_number = serializers.CharField(required=False, max_length=32)
    warm = serializers.BooleanField(
        default=False,
        help_text="Consult the agent first (the caller is held in the call's conference); "
        "finish with transfer/complete/ or transfer/cancel/. Needs the conference bridge.",
    )

    def validate(self, attrs: dict) -> dict:
        if len([key for key in ("to_agent", "to_queue", "to_number") if attrs.get(key)]) != 1:
            raise serializers.ValidationError("Give exactly one of to_agent, to_queue, to_number.")
        if attrs.get("warm") and not attrs.get("to_agent"):
            raise serializers.ValidationError({"warm": ["A warm transfer goes to an agent."]})
        return attrs


class WrapupSerializer(serializers.Serializer):
    disposition = serializers.CharField(max_length=50)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)
    ticket = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    open_ticket = serializers.BooleanField(default=False)


def _conflict(exc: incall.CallConflict) -> Conflict:
    return Conflict(str(exc), code=exc.code)


class CallInCallViewSet(TenantScopedViewSet):
    """Actions on one call; the call must be in one of the caller's tenants."""

    serializer_class = CallStateSerializer
    write_role = Role.AGENT

    def base_queryset(self) -> QuerySet[Call]:
        return Call.objects.select_related("agent", "disposition")

    def _call_for_action(self) -> Call:
        """The call, if the caller is its agent or a supervisor of its tenant (else 403)."""
        call = self.get_object()
        principal = self.principal
        if principal.is_superuser or principal.has_role(call.tenant_id, Role.SUPERVISOR):
            return call
        if principal.user is not None and call.agent and call.agent.user_id == principal.user.pk:
            return call
        raise exceptions.PermissionDenied("Only the call's agent or a supervisor may do this.")

    def _answer(self, call: Call) -> Response:
        fresh = self.base_queryset().get(pk=call.pk)
        return Response(CallStateSerializer(fresh).data)

    @extend_schema(
        summary="Put the caller on hold (hold music; the agent's leg ends meanwhile)",
        request=None,
        responses={200: CallStateSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, pk: str | None = None) -> Response:
        call = self._call_for_action()
        try:
            incall.call_hold(call=call, actor=self.principal)
        except incall.CallConflict as exc:
            raise _conflict(exc) from exc
        return self._answer(call)

    @extend_schema(
        summary="Take the caller off hold (the agent's softphone rings to reconnect)",
        request=None,
        responses={200: CallStateSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        call = self._call_for_action()
        try:
            incall.call_resume(call=call, actor=self.principal)
        except incall.CallConflict as exc:
            raise _conflict(exc) from exc
        return self._answer(call)

    @extend_schema(
        summary="Record that the agent muted or unmuted their microphone",
        description="Muting happens in the browser (Voice JS SDK `call.mute()`); this only "
        "records it in the call's history.",
        request=MuteSerializer,
        responses={200: CallStateSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def mute(self, request: Request, pk: str | None = None) -> Response:
        call = self._call_for_action()
        payload = MuteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            incall.call_mute(call=call, muted=payload.validated_data["muted"], actor=self.principal)
        except incall.CallConflict as exc:
            raise _conflict(exc) from exc
        return self._answer(call)

    @extend_schema(
        summary="Transfer the caller to an agent, a queue or an external number",
        description="Cold by default. With `warm: true` (agents only, conference bridge on) "
        "the caller is held and the agent rung into the call's conference to consult first.",
        request=TransferSerializer,
        responses={200: CallStateSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: str | None = None) -> Response:
        call = self._call_for_action()
        payload = TransferSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        to_agent = to_queue = None
        if data.get("to_agent"):
            to_agent = AgentProfile.objects.filter(
                pk=data["to_agent"], tenant_id=call.tenant_id
            ).first()
            if to_agent is None:
                raise exceptions.ValidationError({"to_agent": ["Unknown agent."]})
        if data.get("to_queue"):
            to_queue = Queue.objects.filter(pk=data["to_queue"], tenant_id=call.tenant_id).first()
            if to_queue is None:
                raise exceptions.ValidationError({"to_queue": ["Unknown queue."]})
        try:
            if data.get("warm"):
                warm_transfer.call_transfer_warm_start(
                    call=call, to_agent=to_agent, actor=self.principal
                )
                return self._answer(call)
            incall.call_transfer(
                call=call,
                to_agent=to_agent,
                to_queue=to_queue,
                to_number=data.get("to_number") or None,
                actor=self.principal,
            )
        except incall.CallConflict as exc:
            raise _conflict(exc) from exc
        return self._answer(call)

    @extend_schema(
        summary="Complete a warm transfer: the consulted agent takes the caller over",
        request=None,
        responses={200: CallStateSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="transfer/complete")
    def transfer_complete(self, request: Request, pk: str | None = None) -> Response:
        call = self._call_for_action()
        try:
            warm_transfer.call_transfer_warm_complete(call=call, actor=self.principal)
        except incall.CallConflict as exc:
            raise _conflict(exc) from exc
        return self._answer(call)

    @extend_schema(
        summary="Cancel a warm transfer: the consulted agent leaves, the caller is back",
        request=None,
        responses={200: CallStateSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="transfer/cancel")
    def transfer_cancel(self, request: Request, pk: str | None = None) -> Response:
        call = self._call_for_action()
        try:
            warm_transfer.call_transfer_warm_cancel(call=call, actor=self.principal)
        except incall.CallConflict as exc:
            raise _conflict(exc) from exc
        return self._answer(call)

    @extend_schema(
        summary="Finish after-call work: disposition, note, and a ticket linked or opened",
        description="The agent is AVAILABLE again afterwards. A supervisor wraps up for the "
        "agent whose after-call work is still open.",
        request=WrapupSerializer,
        responses={200: CallStateSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def wrapup(self, request: Request, pk: str | None = None) -> Response:
        call = self.get_object()
        payload = WrapupSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        agent = self._wrapping_agent(call)
        ticket = None
        if data.get("ticket"):
            ticket = Ticket.objects.filter(pk=data["ticket"], tenant_id=call.tenant_id).first()
            if ticket is None:
                raise exceptions.ValidationError({"ticket": ["Unknown ticket."]})
        try:
            incall.call_wrapup(
                call=call,
                agent=agent,
                disposition=data["disposition"],
                note=data["note"],
                ticket=ticket,
                open_ticket=data["open_ticket"],
                actor=self.principal,
            )
        except incall.CallConflict as exc:
            raise _conflict(exc) from exc
        return self._answer(call)

    def _wrapping_agent(self, call: Call) -> AgentProfile:
        """The requesting agent; for a supervisor, the agent whose wrap-up is still open (else
        the call's agent)."""
        principal = self.principal
        if principal.user is not None:
            own = AgentProfile.objects.filter(
                tenant_id=call.tenant_id, user_id=principal.user.pk
            ).first()
            if own is not None and (
                call.agent_id == own.pk
                or CallEvent.objects.filter(key=f"acw:{call.pk}:{own.pk}:start").exists()
            ):
                return own
        if principal.is_superuser or principal.has_role(call.tenant_id, Role.SUPERVISOR):
            open_ids = [
                int(key.split(":")[2])
                for key in CallEvent.objects.filter(call=call, kind="acw_start")
                .order_by("-received_at", "-id")
                .values_list("key", flat=True)
            ]
            ended = set(
                CallEvent.objects.filter(call=call, kind="acw_end").values_list("key", flat=True)
            )
            for agent_id in open_ids:
                if f"acw:{call.pk}:{agent_id}:end" not in ended:
                    return AgentProfile.objects.get(pk=agent_id)
            if call.agent is not None:
                return call.agent
            raise Conflict("No agent has after-call work open on this call.", code="no_wrapup")
        raise exceptions.PermissionDenied("Only the call's agent or a supervisor may do this.")
