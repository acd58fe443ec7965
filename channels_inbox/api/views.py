"""Inbox endpoints under /api/v1/: conversations (with their messages), channels and
attachment downloads. Thin: scoping comes from `TenantScopedViewSet` and
`channels_inbox.selectors`, rules from `channels_inbox.services`."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import FileResponse
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

from channels_inbox import selectors
from channels_inbox.api import filters, serializers
from channels_inbox.models import Attachment, Channel, Conversation, ConversationStatus
from channels_inbox.services.conversations import conversation_assign, conversation_set_status
from channels_inbox.services.replies import conversation_note_add, message_reply
from crm.api.pagination import FixedOrderCursorPagination
from crm.api.views import crud_schema, errors
from crm.api.viewsets import TenantScopedViewSet
from crm.audit import audit_record

# Described by hand: derived from the filter it would become a named enum that collides with
# the tickets' `status` enum in the schema.
STATUS_PARAMETER = OpenApiParameter(
    "status",
    str,
    many=True,
    explode=True,
    description="Only conversations in these statuses (repeat for several): "
    + ", ".join(ConversationStatus.values)
    + ".",
)


@extend_schema_view(list=extend_schema(parameters=[STATUS_PARAMETER]))
@crud_schema(
    serializers.ConversationSerializer,
    list="List conversations",
    retrieve="Get a conversation",
)
class ConversationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Threads with one contact on one channel. Filter by status, channel, assignee, queue,
    contact; change them only through `assign` and `status`."""

    queryset = Conversation.objects.all()
    serializer_class = serializers.ConversationSerializer
    filterset_class = filters.ConversationFilter
    ordering = ("-last_message_at", "-id")
    ordering_fields = ["last_message_at", "created_at"]

    def base_queryset(self) -> QuerySet:
        queryset = selectors.conversations_for(self.principal)
        if self.action == "messages":
            return queryset.select_related(None).select_related("channel")
        return queryset.select_related("tenant")

    def _fresh(self, conversation: Conversation) -> dict:
        return self.get_serializer(self.get_queryset().get(pk=conversation.pk)).data

    @extend_schema(
        summary="Assign a conversation to an agent, or unassign it",
        description="Agents take unassigned conversations and pass on their own; taking one "
        "from a colleague needs a supervisor. Unassigning puts it back in its queue.",
        request=serializers.ConversationAssignSerializer,
        responses={200: serializers.ConversationSerializer, **errors(400)},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        payload = serializers.ConversationAssignSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        payload.is_valid(raise_exception=True)
        conversation_assign(
            conversation=conversation,
            assignee=payload.validated_data["assignee"],
            actor=self.principal,
        )
        return Response(self._fresh(conversation))

    @extend_schema(
        summary="Open, pend or resolve a conversation",
        request=serializers.ConversationStatusSerializer,
        responses={200: serializers.ConversationSerializer, **errors(400)},
    )
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        payload = serializers.ConversationStatusSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        conversation_set_status(
            conversation=conversation,
            status=payload.validated_data["status"],
            actor=self.principal,
        )
        return Response(self._fresh(conversation))

    @extend_schema(
        methods=["GET"],
        summary="The conversation's messages and notes, newest first",
        responses={200: serializers.MessageSerializer(many=True), **errors()},
    )
    @extend_schema(
        methods=["POST"],
        summary="Reply on the conversation's channel, or add an internal note",
        description="A reply is stored as `queued` and sent by a worker; follow its `status` "
        "(queued → sent → delivered, or failed with `error_message`).",
        request=serializers.MessageCreateSerializer,
        responses={201: serializers.MessageSerializer, **errors(400)},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def messages(self, request: Request, pk: str | None = None) -> Response:
        conversation = self.get_object()
        if request.method == "POST":
            payload = serializers.MessageCreateSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            data = payload.validated_data
            if data["type"] == "note":
                message = conversation_note_add(
                    conversation=conversation, actor=self.principal, text=data["text"]
                )
            else:
                message = message_reply(
                    conversation=conversation,
                    actor=self.principal,
                    text=data["text"],
                    html=data["html"],
                    subject=data["subject"],
                    cc=data["cc"],
                )
            fresh = selectors.messages_for(conversation=conversation).get(pk=message.pk)
            return Response(
                serializers.MessageSerializer(fresh).data, status=status.HTTP_201_CREATED
            )
        paginator = FixedOrderCursorPagination(("-created_at", "-id"))
        page = paginator.paginate_queryset(
            selectors.messages_for(conversation=conversation), request, view=self
        )
        data = serializers.MessageSerializer(page, many=True).data
        return paginator.get_paginated_response(data)


@crud_schema(serializers.ChannelSerializer, list="List inbox channels", retrieve="Get a channel")
class ChannelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The tenant's inbox channels (configured by managers in the admin). Credentials and hook
    tokens are never shown."""

    queryset = Channel.objects.all()
    serializer_class = serializers.ChannelSerializer
    ordering = ("name", "id")
    ordering_fields = ["name", "created_at"]

    def base_queryset(self) -> QuerySet:
        return selectors.channels_for(self.principal)


class AttachmentViewSet(TenantScopedViewSet):
    """Files that came with messages, downloadable by whoever may see their conversation."""

    queryset = Attachment.objects.all()
    serializer_class = serializers.AttachmentSerializer
    pagination_class = None
    filter_backends: list = []

    def base_queryset(self) -> QuerySet:
        return Attachment.objects.select_related("message")

    @extend_schema(
        summary="Download an attachment",
        description="Every download is recorded in the audit trail.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            **errors(),
        },
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None) -> FileResponse:
        attachment = self.get_object()
        if not attachment.file:
            # Refused or never fetched: the message's `problems` say why.
            raise exceptions.NotFound(_("This attachment's file was not kept."))
        audit_record(actor=self.principal, action="view", obj=attachment)
        return FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.filename,
            content_type=attachment.content_type or "application/octet-stream",
        )
