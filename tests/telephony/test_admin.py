"""The telephony admin screens: tenant isolation for every screen, read-only call records."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib import admin
from django.urls import reverse

from crm import models as m
from telephony.models import (
    Call,
    CallEvent,
    ConferenceParticipant,
    DispositionCode,
    IvrAction,
    IvrMenu,
    IvrOption,
    PhoneNumber,
    QueueVoiceSettings,
    Recording,
    Voicemail,
)
from tests.conftest import member
from tests.crm.factories import QueueFactory, UserFactory
from tests.telephony.conftest import new_call_sid

pytestmark = pytest.mark.django_db


def _menu(tenant: m.Tenant) -> IvrMenu:
    menu = IvrMenu.objects.create(tenant=tenant, name=f"Menu {tenant.slug}", greeting_text="Hej")
    IvrOption.objects.create(
        menu=menu, digit="1", action=IvrAction.QUEUE, target_queue=QueueFactory(tenant=tenant)
    )
    return menu


def _number(tenant: m.Tenant) -> PhoneNumber:
    suffix = {"nordlys": "1", "wisla": "2"}.get(tenant.slug, "3")
    return PhoneNumber.objects.create(
        tenant=tenant,
        number=f"+457010010{suffix}",
        name=f"Line {tenant.slug}",
        entry_menu=_menu(tenant),
    )


def _call(tenant: m.Tenant) -> Call:
    call = Call.objects.create(
        tenant=tenant,
        sid=new_call_sid(),
        direction=Call.Direction.INBOUND,
        from_number="+4520304050",
        to_number="+4570100101",
    )
    CallEvent.objects.create(
        tenant=tenant, call=call, call_sid=call.sid, kind="status", key=f"status:{call.sid}:0"
    )
    ConferenceParticipant.objects.create(
        tenant=tenant, call=call, conference_sid="CF" + "1" * 32, call_sid=call.sid, role="caller"
    )
    return call


BUILDERS: dict[type, Callable[[m.Tenant], object]] = {
    PhoneNumber: _number,
    IvrMenu: _menu,
    Call: _call,
    Voicemail: lambda tenant: Voicemail.objects.create(
        tenant=tenant, call=_call(tenant), recording_sid="RE" + tenant.slug
    ),
    DispositionCode: lambda tenant: DispositionCode.objects.create(
        tenant=tenant, code="resolved", label=f"Resolved {tenant.slug}"
    ),
    Recording: lambda tenant: Recording.objects.create(
        tenant=tenant, call=_call(tenant), recording_sid="RE" + tenant.slug
    ),
    QueueVoiceSettings: lambda tenant: QueueVoiceSettings.objects.create(
        tenant=tenant, queue=QueueFactory(tenant=tenant), callback_enabled=True
    ),
}
TELEPHONY_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "telephony"),
    key=lambda model: model._meta.model_name,
)


def _urls(obj) -> tuple[str, str]:
    meta = obj._meta
    return (
        reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"),
        reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]),
    )


@pytest.fixture
def staff_manager(tenant):
    return member(tenant, m.Role.MANAGER, user=UserFactory(username="boss", is_staff=True))


def test_every_telephony_screen_is_in_the_matrix():
    assert set(TELEPHONY_MODELS) == set(BUILDERS)


@pytest.mark.parametrize("model", TELEPHONY_MODELS, ids=lambda model: model._meta.model_name)
def test_a_manager_sees_only_their_tenants_rows(client, model, tenant, other_tenant, staff_manager):
    # given a row in each tenant
    mine = BUILDERS[model](tenant)
    theirs = BUILDERS[model](other_tenant)
    client.force_login(staff_manager)

    # when the manager opens the changelist and both object pages
    changelist, mine_url = _urls(mine)
    body = client.get(changelist).content.decode()

    # then only their own row is listed and the other tenant's page is 404
    assert mine_url in body
    assert _urls(theirs)[1] not in body
    assert client.get(mine_url).status_code == 200
    assert client.get(_urls(theirs)[1]).status_code == 404


@pytest.mark.parametrize(
    "model", [Call, Voicemail, Recording], ids=["call", "voicemail", "recording"]
)
def test_call_records_are_read_only(client, model, tenant, staff_manager):
    obj = BUILDERS[model](tenant)
    client.force_login(staff_manager)

    response = client.post(_urls(obj)[1], {})

    assert response.status_code == 403
    assert reverse(f"admin:telephony_{model._meta.model_name}_add")
    assert client.get(reverse(f"admin:telephony_{model._meta.model_name}_add")).status_code == 403


def test_a_manager_adds_a_menu_with_options_through_the_admin(
    client, tenant, other_tenant, staff_manager
):
    # given a queue of the manager's tenant and one of another tenant
    mine, theirs = QueueFactory(tenant=tenant), QueueFactory(tenant=other_tenant)
    client.force_login(staff_manager)
    form = {
        "tenant": tenant.pk,
        "name": "Hovedmenu",
        "greeting_text": "Velkommen",
        "timeout_seconds": 5,
        "max_retries": 2,
        "after_hours_action": "hangup",
        "options-TOTAL_FORMS": 1,
        "options-INITIAL_FORMS": 0,
        "options-0-digit": "1",
        "options-0-action": "queue",
    }
    url = reverse("admin:telephony_ivrmenu_add")

    # when they link an option to the other tenant's queue, it is refused
    response = client.post(url, {**form, "options-0-target_queue": theirs.pk})
    assert response.status_code == 200
    assert IvrMenu.objects.count() == 0

    # and with their own queue the menu and option are saved
    response = client.post(url, {**form, "options-0-target_queue": mine.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    option = IvrOption.objects.get()
    assert option.menu.tenant == tenant
    assert option.target_queue == mine


def test_a_phone_number_is_stored_in_e164(client, tenant, staff_manager):
    client.force_login(staff_manager)
    menu = _menu(tenant)

    response = client.post(
        reverse("admin:telephony_phonenumber_add"),
        {
            "tenant": tenant.pk,
            "number": "70 10 01 00",
            "name": "Hotline",
            "entry_menu": menu.pk,
            "recording_policy": "none",
        },
    )

    assert response.status_code == 302
    assert PhoneNumber.objects.get().number == "+4570100100"


def test_a_call_shows_who_was_in_its_conference(client, tenant, staff_manager):
    call = _call(tenant)
    client.force_login(staff_manager)
    response = client.get(reverse("admin:telephony_call_change", args=[call.pk]))
    assert response.status_code == 200
    assert "Conference participants" in response.content.decode()
