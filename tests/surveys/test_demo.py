"""The demo surveys: created once per demo tenant, valid, and wired to a queue."""

from __future__ import annotations

import pytest

from crm.demo import SeedReport
from crm.models import ChannelKind, Queue
from surveys.demo import seed
from surveys.models import QueueSurvey, Survey, VersionStatus
from tests.crm.factories import QueueFactory

pytestmark = pytest.mark.django_db


def test_demo_surveys_are_seeded_once_per_tenant(tenant, other_tenant):
    QueueFactory(tenant=tenant, name="Kundeservice", channel_kinds=[ChannelKind.VOICE])
    report = seed(SeedReport())
    assert report.created["surveys"] == 4
    again = seed(SeedReport())
    assert "surveys" not in again.created
    script = Survey.objects.get(tenant=tenant, for_agent=True)
    assert script.versions.get().status == VersionStatus.PUBLISHED
    assert QueueSurvey.objects.get().queue == Queue.objects.get(tenant=tenant)
    assert Survey.objects.filter(tenant=other_tenant).count() == 2
