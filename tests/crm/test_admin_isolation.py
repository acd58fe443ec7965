"""The tenant-isolation matrix for the admin: every registered CRM changelist, as a manager of one
tenant and as a superuser; and changelist query counts that do not grow with the rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm import models as m
from crm.services.api_keys import api_key_create
from tests.conftest import member
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    MembershipFactory,
    OrganizationFactory,
    QueueFactory,
    SkillFactory,
    TicketFactory,
    UserFactory,
)


def _contact_merge(tenant: m.Tenant) -> m.ContactMerge:
    return m.ContactMerge.objects.create(
        tenant=tenant,
        source=ContactFactory(tenant=tenant),
        target=ContactFactory(tenant=tenant),
        moved={"identities": 1},
    )


def _timeline_entry(tenant: m.Tenant) -> m.TimelineEntry:
    return m.TimelineEntry.objects.create(
        tenant=tenant, contact=ContactFactory(tenant=tenant), kind="note.added", summary="Hej"
    )


def _presence_log(tenant: m.Tenant) -> m.PresenceLog:
    agent = AgentProfileFactory(tenant=tenant)
    return m.PresenceLog.objects.create(tenant=tenant, agent=agent, presence=m.Presence.AVAILABLE)


def _business_hours(tenant: m.Tenant) -> m.BusinessHours:
    hours = m.BusinessHours.objects.create(tenant=tenant, name=f"Hours {tenant.slug}")
    m.BusinessHoursRule.objects.create(schedule=hours, weekday=0, opens=time(8), closes=time(16))
    return hours


def _work_item(tenant: m.Tenant) -> m.WorkItem:
    return m.WorkItem.objects.create(
        tenant=tenant,
        queue=QueueFactory(tenant=tenant),
        kind=m.WorkItem.Kind.CALL,
        channel_kind=m.ChannelKind.VOICE,
    )


def _offer(tenant: m.Tenant) -> m.Offer:
    return m.Offer.objects.create(
        tenant=tenant,
        work_item=_work_item(tenant),
        agent=AgentProfileFactory(tenant=tenant),
        expires_at=timezone.now() + timedelta(seconds=20),
    )


def _audit_entry(tenant: m.Tenant) -> m.AuditEntry:
    return m.AuditEntry.objects.create(
        tenant=tenant, actor_label="seed", action="update", object_type="crm.queue", object_id="1"
    )


# One row of each registered model, in the given tenant.
BUILDERS: dict[type, Callable[[m.Tenant], object]] = {
    m.Tenant: lambda tenant: tenant,
    m.User: lambda tenant: MembershipFactory(tenant=tenant).user,
    m.Membership: lambda tenant: MembershipFactory(tenant=tenant),
    m.ApiKey: lambda tenant: api_key_create(tenant=tenant, name=f"crm-{tenant.slug}")[0],
    m.Organization: lambda tenant: OrganizationFactory(tenant=tenant),
    m.Contact: lambda tenant: ContactFactory(tenant=tenant),
    m.Tag: lambda tenant: m.Tag.objects.create(tenant=tenant, name=f"vip-{tenant.slug}"),
    m.CustomAttributeDefinition: lambda tenant: m.CustomAttributeDefinition.objects.create(
        tenant=tenant, key="customer_no", label=f"Customer no. {tenant.slug}"
    ),
    m.ContactMerge: _contact_merge,
    m.Ticket: lambda tenant: TicketFactory(tenant=tenant),
    m.Note: lambda tenant: m.Note.objects.create(
        tenant=tenant, contact=ContactFactory(tenant=tenant), body="Ringede tilbage"
    ),
    m.TimelineEntry: _timeline_entry,
    m.AuditEntry: _audit_entry,
    m.Skill: lambda tenant: SkillFactory(tenant=tenant),
    m.Team: lambda tenant: m.Team.objects.create(tenant=tenant, name=f"Team {tenant.slug}"),
    m.Queue: lambda tenant: QueueFactory(tenant=tenant),
    m.AgentProfile: lambda tenant: AgentProfileFactory(tenant=tenant),
    m.PresenceLog: _presence_log,
    m.BusinessHours: _business_hours,
    m.WorkItem: _work_item,
    m.Offer: _offer,
}

CRM_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "crm"),
    key=lambda model: model._meta.model_name,
)


def test_every_registered_crm_model_has_a_builder():
    # A new admin screen must join the matrix below.
    assert set(CRM_MODELS) == set(BUILDERS)


def test_every_crm_model_has_an_admin_screen():
    from django.apps import apps

    # Inline-only models are edited on their parent's page.
    inline_only = {m.ContactIdentity, m.AgentSkill, m.BusinessHoursRule, m.Holiday}
    registered = set(admin.site._registry)
    missing = [
        model
        for model in apps.get_app_config("crm").get_models()
        if model not in registered and model not in inline_only
    ]
    assert missing == []


def _urls(obj) -> tuple[str, str]:
    meta = obj._meta
    return (
        reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
        reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]),
    )


@pytest.fixture
def staff_manager(tenant):
    return member(tenant, m.Role.MANAGER, user=UserFactory(username="boss", is_staff=True))


@pytest.mark.django_db
@pytest.mark.parametrize("model", CRM_MODELS, ids=lambda model: model._meta.model_name)
def test_manager_sees_only_their_tenants_rows(client, model, tenant, other_tenant, staff_manager):
    # given a row in each tenant
    mine = BUILDERS[model](tenant)
    theirs = BUILDERS[model](other_tenant)
    changelist, my_change_url = _urls(mine)
    their_change_url = _urls(theirs)[1]
    client.force_login(staff_manager)

    # when the manager of the first tenant opens the changelist
    response = client.get(changelist)

    # then their row is listed and the other tenant's row (and name) is not
    assert response.status_code == 200
    body = response.content.decode()
    assert my_change_url in body
    assert their_change_url not in body
    assert other_tenant.name not in body

    # and the other tenant's object page answers 404 without its data
    response = client.get(their_change_url)
    assert response.status_code == 404
    assert str(theirs) not in response.content.decode() or str(theirs) == str(mine)


@pytest.mark.django_db
@pytest.mark.parametrize("model", CRM_MODELS, ids=lambda model: model._meta.model_name)
def test_superuser_sees_every_tenants_rows(client, model, tenant, other_tenant):
    # given a row in each tenant
    mine = BUILDERS[model](tenant)
    theirs = BUILDERS[model](other_tenant)
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)

    # when a superuser opens the changelist
    response = client.get(_urls(mine)[0])

    # then both rows are listed and both object pages open
    body = response.content.decode()
    assert _urls(mine)[1] in body
    assert _urls(theirs)[1] in body
    assert client.get(_urls(theirs)[1]).status_code == 200


def _make_contact(tenant: m.Tenant, n: int) -> None:
    contact = ContactFactory(tenant=tenant, organization=OrganizationFactory(tenant=tenant))
    m.ContactIdentity.objects.create(
        tenant=tenant, contact=contact, kind="phone", value=f"+4520{n:06d}"
    )


def _make_ticket(tenant: m.Tenant, n: int) -> None:
    TicketFactory(
        tenant=tenant,
        queue=QueueFactory(tenant=tenant),
        assignee=MembershipFactory(tenant=tenant).user,
    )


def _make_agent(tenant: m.Tenant, n: int) -> None:
    agent = AgentProfileFactory(tenant=tenant)
    m.AgentSkill.objects.create(agent=agent, skill=SkillFactory(tenant=tenant), level=n % 10 + 1)


def _make_queue(tenant: m.Tenant, n: int) -> None:
    queue = QueueFactory(tenant=tenant, business_hours=_business_hours(tenant))
    queue.required_skills.add(SkillFactory(tenant=tenant), SkillFactory(tenant=tenant))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "make"),
    [
        (m.Contact, _make_contact),
        (m.Ticket, _make_ticket),
        (m.AgentProfile, _make_agent),
        (m.Queue, _make_queue),
    ],
    ids=["contacts", "tickets", "agents", "queues"],
)
def test_changelist_queries_do_not_grow_with_rows(client, model, make, tenant, staff_manager):
    changelist = reverse(f"admin:crm_{model._meta.model_name}_changelist")
    client.force_login(staff_manager)

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(changelist)
        assert response.status_code == 200
        return len(captured)

    # given 3 rows
    for n in range(3):
        make(tenant, n)
    few = queries_for_page()

    # when there are 15
    for n in range(3, 15):
        make(tenant, n)
    many = queries_for_page()

    # then the page costs the same number of queries
    assert model.objects.filter(tenant=tenant).count() == 15
    assert many == few, f"{few} queries for 3 rows, {many} for 15"


# Builders that can run many times in one tenant (the ones above use fixed unique names).
REPEATABLE = {
    **BUILDERS,
    m.Tag: lambda tenant: m.Tag.objects.create(tenant=tenant, name=f"tag-{m.Tag.objects.count()}"),
    m.CustomAttributeDefinition: lambda tenant: m.CustomAttributeDefinition.objects.create(
        tenant=tenant,
        key=f"attribute_{m.CustomAttributeDefinition.objects.count()}",
        label="Attribute",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    [model for model in CRM_MODELS if model is not m.Tenant],
    ids=lambda model: model._meta.model_name,
)
def test_every_changelist_costs_the_same_queries_for_2_rows_as_for_8(
    client, model, tenant, staff_manager
):
    changelist = _urls(REPEATABLE[model](tenant))[0]
    REPEATABLE[model](tenant)
    client.force_login(staff_manager)

    def queries_and_rows() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(changelist)
        assert response.status_code == 200
        return len(captured), len(response.context["cl"].result_list)

    # given two rows; when six more are added
    few, rows_before = queries_and_rows()
    for _ in range(6):
        REPEATABLE[model](tenant)
    many, rows_after = queries_and_rows()

    # then the page shows them all for the same number of queries
    assert rows_after - rows_before == 6
    assert many == few, f"{model._meta.model_name}: {few} queries for 2 rows, {many} for 8"
