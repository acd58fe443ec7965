"""/api/v1/surveys/ (read) and /api/v1/survey-responses/ (read, create)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from channels_inbox.models import Conversation
from crm.api.views import crud_schema, errors
from crm.api.viewsets import TenantScopedViewSet
from crm.models import Contact, Ticket
from crm.tenancy import scope
from surveys.api import serializers
from surveys.models import SurveyVersion, VersionStatus
from surveys.selectors import responses_for, surveys_for
from surveys.services.runs import response_answer, response_end, response_start
from telephony.models import Call


@crud_schema(serializers.SurveySerializer, list="List surveys", retrieve="Get a survey")
class SurveyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Surveys and call scripts with the steps of their published version (built in the admin)."""

    serializer_class = serializers.SurveySerializer
    ordering = ("name", "id")
    ordering_fields = ["name", "created_at"]

    def base_queryset(self) -> QuerySet:
        published = SurveyVersion.objects.filter(status=VersionStatus.PUBLISHED).prefetch_related(
            "steps"
        )
        return surveys_for(self.principal).prefetch_related(
            Prefetch("versions", queryset=published, to_attr="published")
        )


@crud_schema(
    serializers.ResponseSerializer,
    list="List survey responses",
    retrieve="Get a survey response with its answers",
)
class ResponseViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantScopedViewSet
):
    """Runs of surveys (agent scripts, IVR, web links) with their answers. Integrations that run
    a survey themselves record the answers with POST; each is checked as if given one by one:
    a rating out of range, a choice not offered or a step not on the path answers 400 with the
    reason, and nothing is stored."""

    serializer_class = serializers.ResponseSerializer
    ordering = ("-started_at", "-id")
    ordering_fields = ["started_at", "completed_at"]

    def base_queryset(self) -> QuerySet:
        queryset = responses_for(self.principal).prefetch_related("answers__step")
        survey = self.request.query_params.get("survey", "")
        if survey.isdigit():
            queryset = queryset.filter(survey_id=int(survey))
        state = self.request.query_params.get("status", "")
        if state:
            queryset = queryset.filter(status=state)
        return queryset.select_related("tenant")

    @extend_schema(
        parameters=[
            OpenApiParameter("survey", int, description="Only this survey's responses"),
            OpenApiParameter("status", str, description="in_progress, completed or ended"),
        ]
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    def _visible(self, model, pk: int | None, tenant_id: int, name: str):
        if pk is None:
            return None
        row = scope(model.objects.all(), self.principal).filter(pk=pk, tenant_id=tenant_id).first()
        if row is None:
            raise exceptions.ValidationError({name: [f"Unknown {name} in this survey's tenant."]})
        return row

    @extend_schema(
        summary="Record a survey response",
        request=serializers.ResponseCreateSerializer,
        responses={201: serializers.ResponseSerializer, **errors(400)},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = serializers.ResponseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        survey = surveys_for(self.principal).filter(pk=body["survey"]).first()
        if survey is None:
            raise exceptions.ValidationError({"survey": ["Unknown survey."]})
        self.tenant_for_write(survey.tenant_id)  # the role check in the survey's tenant
        tenant_id = survey.tenant_id
        with transaction.atomic():
            response = response_start(
                survey=survey,
                mode=body["mode"],
                contact=self._visible(Contact, body.get("contact"), tenant_id, "contact"),
                call=self._visible(Call, body.get("call"), tenant_id, "call"),
                conversation=self._visible(
                    Conversation, body.get("conversation"), tenant_id, "conversation"
                ),
                ticket=self._visible(Ticket, body.get("ticket"), tenant_id, "ticket"),
            )
            for index, item in enumerate(body["answers"]):
                if not response.is_open:
                    raise exceptions.ValidationError(
                        {"answers": {index: ["The survey ended before this answer."]}}
                    )
                try:
                    response = response_answer(
                        response=response,
                        step_key=item["step"],
                        value=item.get("value"),
                        actor=self.principal,
                    )
                except ValidationError as exc:
                    raise exceptions.ValidationError(
                        {"answers": {index: [f"{item['step']}: {m}" for m in exc.messages]}}
                    ) from None
            if body["finished"] and response.is_open:
                response = response_end(response=response)
        fresh = self.get_queryset().get(pk=response.pk)
        return Response(
            serializers.ResponseSerializer(fresh, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )
