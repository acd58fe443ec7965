"""Click-to-call: POST /api/v1/telephony/calls/ rings the agent's browser, then the customer."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from contactcenter.celery import app as celery_app
from crm.models import Role, TimelineEntry
from telephony.models import Call, CallOutcome, OutboundCall, PhoneNumber
from telephony.simulator import DjangoClientTransport, drive_outbound_calls, rest_log
from telephony.tasks import outbound_place
from tests.conftest import member
from tests.crm.factories import (
    AgentProfileFactory,
    ContactFactory,
    ContactIdentityFactory,
    TicketFactory,
)
from tests.telephony.conftest import NUMBER

pytestmark = pytest.mark.django_db
CALLS = "/api/v1/telephony/calls/"
CUSTOMER = "+4520998877"


@pytest.fixture
def clean_log():
    rest_log.clear()
    yield
    rest_log.clear()


@pytest.fixture
def eager_tasks():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def caller_id(phone_number):
    PhoneNumber.objects.filter(pk=phone_number.pk).update(is_outbound_caller_id=True)
    return phone_number


@pytest.fixture
def agent(tenant):
    user = member(tenant, Role.AGENT)
    return AgentProfileFactory(tenant=tenant, user=user)


@pytest.fixture
def contact(tenant):
    contact = ContactFactory(tenant=tenant, first_name="Freja")
    ContactIdentityFactory(contact=contact, value=CUSTOMER, is_primary=True)
    return contact


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_an_agent_calls_a_contact_about_a_ticket(
    agent,
    contact,
    caller_id,
    tenant,
    clean_log,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    # given a ticket of the contact
    ticket = TicketFactory(tenant=tenant, contact=contact)

    # when the agent clicks "call"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent.user).post(
            CALLS, {"contact": contact.pk, "ticket": ticket.pk}, format="json"
        )

    # then an outbound call is written from the tenant's caller ID to the contact's number
    assert response.status_code == 201, response.content
    call = Call.objects.get(pk=response.json()["id"])
    assert call.direction == Call.Direction.OUTBOUND_API
    assert (call.from_number, call.to_number) == (NUMBER, CUSTOMER)
    assert (call.contact, call.agent) == (contact, agent)
    assert response.json()["ticket"] == ticket.pk
    assert OutboundCall.objects.get(call=call).ticket == ticket
    # and it is on the contact's timeline, linked to the ticket
    entry = TimelineEntry.objects.get(contact=contact, kind="call.outbound")
    assert entry.ticket == ticket
    # and the task asked the provider to ring the agent's browser first
    (created,) = rest_log.rest_log()
    assert created["method"] == "create_call"
    assert (created["to"], created["from"]) == (f"client:agent_{agent.user_id}", NUMBER)
    assert (
        created["url"]
        == f"http://localhost:8000/hooks/twilio/voice/calls/{call.pk}/outbound/connect/"
    )
    assert created["status_callback"] == "http://localhost:8000/hooks/twilio/voice/status/"
    call.refresh_from_db()
    assert call.sid == created["call_sid"]

    # when the simulated Twilio runs the call (the agent answers, then the customer)
    (result,) = drive_outbound_calls(transport=DjangoClientTransport())

    # then the agent's leg dialled the customer with the caller ID, and the call is recorded
    (dial,) = result.steps_of("dial")
    assert (dial.detail["noun"], dial.detail["target"]) == ("Number", CUSTOMER)
    connect = next(e for e in result.exchanges if e.url.endswith("/outbound/connect/"))
    assert f'callerId="{NUMBER}"' in connect.body
    assert "record=" not in connect.body  # the number's policy: do not record
    call.refresh_from_db()
    assert call.status == "completed"
    assert call.outcome == CallOutcome.ANSWERED
    assert call.answered_at is not None
    assert call.talk_seconds is not None


def test_the_request_itself_never_calls_the_provider(agent, contact, caller_id, clean_log):
    # when the agent clicks "call" (the task has not run: no worker, commit not executed)
    response = client_for(agent.user).post(CALLS, {"contact": contact.pk}, format="json")

    # then nothing was sent to the provider yet
    assert response.status_code == 201
    assert rest_log.rest_log() == []


def test_a_phone_number_can_be_called_without_a_contact(agent, caller_id, clean_log):
    # when the agent dials a number written the local way
    response = client_for(agent.user).post(CALLS, {"phone": "20 99 88 77"}, format="json")

    # then it is normalised with the tenant's region
    assert response.status_code == 201, response.content
    assert response.json()["to_number"] == CUSTOMER
    assert response.json()["contact"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({"phone": "not a number"}, "phone"), ({}, "non_field_errors")],
)
def test_bad_numbers_are_refused_with_the_reason(agent, caller_id, body, field):
    response = client_for(agent.user).post(CALLS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Call.objects.exists()


def test_without_an_outbound_caller_id_the_call_is_refused(agent, contact, phone_number):
    # given a tenant whose numbers are not outbound caller IDs
    response = client_for(agent.user).post(CALLS, {"contact": contact.pk}, format="json")

    # then 400 says why
    assert response.status_code == 400
    assert "caller ID" in str(response.json()["error"]["fields"])
    assert not Call.objects.exists()


def test_a_contact_who_refused_calls_is_not_called(agent, contact, caller_id):
    # given a contact without consent to calls
    contact.consent_calls = False
    contact.save()

    response = client_for(agent.user).post(CALLS, {"contact": contact.pk}, format="json")

    assert response.status_code == 400
    assert "contact" in response.json()["error"]["fields"]
    assert not Call.objects.exists()


def test_another_tenants_contact_is_not_found(agent, caller_id, other_tenant):
    # given a contact of another tenant
    stranger = ContactFactory(tenant=other_tenant)
    ContactIdentityFactory(contact=stranger, value="+48601234567")

    response = client_for(agent.user).post(CALLS, {"contact": stranger.pk}, format="json")

    assert response.status_code == 404
    assert not Call.objects.exists()


def test_a_viewer_may_not_call(tenant, contact, caller_id):
    # given a viewer of the tenant
    viewer = member(tenant, Role.VIEWER)

    response = client_for(viewer).post(CALLS, {"contact": contact.pk}, format="json")

    assert response.status_code == 403
    assert not Call.objects.exists()


def test_a_member_who_is_not_an_agent_gets_a_reason(tenant, contact, caller_id):
    # given a supervisor without an agent profile
    supervisor = member(tenant, Role.SUPERVISOR)

    response = client_for(supervisor).post(CALLS, {"contact": contact.pk}, format="json")

    assert response.status_code == 400
    assert "not an agent" in str(response.json()["error"]["fields"])


def test_the_task_places_the_call_once(agent, contact, caller_id, clean_log):
    # given a requested call
    response = client_for(agent.user).post(CALLS, {"contact": contact.pk}, format="json")
    call_id = response.json()["id"]

    # when the task runs twice (a retry)
    first = outbound_place(call_id)
    second = outbound_place(call_id)

    # then one call was created at the provider
    assert first == second
    assert len(rest_log.rest_log()) == 1
