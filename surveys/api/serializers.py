"""Serializers of the surveys API: surveys with their published steps, and responses."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.api.fields import TenantField
from surveys.models import Mode, Step, Survey, SurveyResponse
from surveys.selectors import answer_values


class StepSerializer(serializers.ModelSerializer):
    choices = serializers.ListField(child=serializers.DictField(), read_only=True)
    branches = serializers.ListField(child=serializers.DictField(), read_only=True)

    class Meta:
        model = Step
        fields = [
            "key",
            "position",
            "kind",
            "text",
            "required",
            "choices",
            "branches",
            "min_value",
            "max_value",
        ]
        read_only_fields = fields


class SurveySerializer(serializers.ModelSerializer):
    tenant = TenantField(read_only=True)
    modes = serializers.SerializerMethodField()
    published_version = serializers.SerializerMethodField(
        help_text="Number of the version new runs use (null: not published yet)."
    )
    steps = serializers.SerializerMethodField(help_text="The published version's steps.")

    class Meta:
        model = Survey
        fields = [
            "id",
            "tenant",
            "name",
            "description",
            "modes",
            "language",
            "published_version",
            "steps",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ListField(child=serializers.CharField(), help_text="agent, ivr and/or web")
    )
    def get_modes(self, survey: Survey) -> list[str]:
        flags = {Mode.AGENT: survey.for_agent, Mode.IVR: survey.for_ivr, Mode.WEB: survey.for_web}
        return [str(mode) for mode, on in flags.items() if on]

    def _published(self, survey: Survey):
        published = getattr(survey, "published", None)
        return published[0] if published else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_published_version(self, survey: Survey) -> int | None:
        version = self._published(survey)
        return version.number if version is not None else None

    @extend_schema_field(StepSerializer(many=True))
    def get_steps(self, survey: Survey) -> list[dict]:
        version = self._published(survey)
        if version is None:
            return []
        return StepSerializer(version.steps.all(), many=True).data


class AnswerInputSerializer(serializers.Serializer):
    step = serializers.CharField(max_length=40, help_text="The step's key.")
    value = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="A choice value, a list of them (multiple choice), a number, a date "
        "(YYYY-MM-DD) or text; null for a “say” step or a skipped optional one.",
    )


class ResponseSerializer(serializers.ModelSerializer):
    tenant = TenantField(read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    # Plain strings, not enums: the API's other "mode" and "status" fields mean other things.
    mode = serializers.CharField(read_only=True, help_text="agent, ivr or web")
    status = serializers.CharField(read_only=True, help_text="in_progress, completed or ended")
    answers = serializers.SerializerMethodField(
        help_text="Answers by step key (a list for multiple choice)."
    )

    class Meta:
        model = SurveyResponse
        fields = [
            "id",
            "tenant",
            "survey",
            "version",
            "mode",
            "status",
            "outcome",
            "current_step_key",
            "path",
            "contact",
            "call",
            "conversation",
            "ticket",
            "agent",
            "queue",
            "started_at",
            "completed_at",
            "answers",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_answers(self, response: SurveyResponse) -> dict:
        return answer_values(response)


class ResponseCreateSerializer(serializers.Serializer):
    """A run recorded by an integration (a web form or IVR of its own): the answers are
    applied in order along the survey's branches, exactly as if given one by one."""

    survey = serializers.IntegerField()
    mode = serializers.CharField(help_text="web, ivr or agent")
    contact = serializers.IntegerField(required=False, allow_null=True)
    call = serializers.IntegerField(required=False, allow_null=True)
    conversation = serializers.IntegerField(required=False, allow_null=True)
    ticket = serializers.IntegerField(required=False, allow_null=True)
    answers = AnswerInputSerializer(many=True)
    finished = serializers.BooleanField(
        default=True,
        help_text="False: keep the run open (more answers may follow in the product that "
        "recorded them); True and the path not at its end: stored as a partial response.",
    )

    def validate_mode(self, value: str) -> str:
        if value not in Mode.values:
            raise serializers.ValidationError("Use web, ivr or agent.")
        return value

    def validate_answers(self, value: list) -> list:
        if not value:
            raise serializers.ValidationError("Give at least one answer.")
        return value
