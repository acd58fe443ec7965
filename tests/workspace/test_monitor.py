"""Supervisor listen-in / whisper / barge buttons on the wallboard
(/supervisor/calls/<id>/monitor/), through the real views, the simulated provider and the
conference webhook."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import Role
from telephony.models import CallEvent, ConferenceParticipant, ParticipantRole
from telephony.simulator import DjangoClientTransport
from telephony.simulator.conference import drive_conference_requests
from tests.conftest import member
from tests.telephony import conference_support, incall_support
from tests.telephony import conftest as telephony_conftest
from tests.telephony.conference_support import bridged_call, send_conference_requests
from tests.telephony.incall_support import answered_call

pytestmark = pytest.mark.django_db
clean_log = incall_support.clean_log
twilio_post = telephony_conftest.twilio_post
phone_number = telephony_conftest.phone_number
main_menu = telephony_conftest.main_menu
support_queue = telephony_conftest.support_queue
bridge_on = conference_support.bridge_on
scheduled = conference_support.scheduled


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _press(client: Client, call, mode: str):
    return client.post(reverse("supervisor-call-monitor", args=[call.pk, mode]))


def test_the_url_is_the_promised_one():
    assert reverse("supervisor-call-monitor", args=[7, "listen"]) == (
        "/supervisor/calls/7/monitor/listen/"
    )
    assert reverse("supervisor-call-monitor", args=[7, "stop"]) == (
        "/supervisor/calls/7/monitor/stop/"
    )


def test_a_supervisor_listens_whispers_and_stops_from_the_wallboard(
    twilio_post,
    phone_number,
    tenant,
    clean_log,
    client,
    bridge_on,
    scheduled,
    supervisor_user,
    django_capture_on_commit_callbacks,
):
    bridged = bridged_call(twilio_post, tenant, client)
    call = bridged.call
    boss = _login(supervisor_user)
    transport = DjangoClientTransport(client)

    # when the supervisor presses Listen
    with django_capture_on_commit_callbacks(execute=True):
        response = _press(boss, call, "listen")
    # then the fragment comes back with the four buttons and the leg is rung muted
    assert response.status_code == 200, response.content
    html = response.content.decode()
    for label in ("Listen", "Whisper", "Barge", "Stop"):
        assert f">{label}</button>" in html
    assert len(scheduled) == 1
    send_conference_requests(call)
    drive_conference_requests(transport=transport)
    leg = ConferenceParticipant.objects.get(role=ParticipantRole.SUPERVISOR)
    assert leg.user == supervisor_user
    assert leg.muted is True

    # when they press Whisper: the fragment marks the mode the provider confirmed
    with django_capture_on_commit_callbacks(execute=True):
        assert _press(boss, call, "whisper").status_code == 200
    send_conference_requests(call)
    drive_conference_requests(transport=transport)
    leg.refresh_from_db()
    assert leg.coaching is True
    assert 'data-mode="whisper"' in _press(boss, call, "whisper").content.decode()

    # when they press Stop, the leg leaves and the call goes on
    with django_capture_on_commit_callbacks(execute=True):
        assert _press(boss, call, "stop").status_code == 200
    send_conference_requests(call)
    drive_conference_requests(transport=transport)
    leg.refresh_from_db()
    assert leg.left_at is not None
    assert ConferenceParticipant.objects.get(call_sid=bridged.agent_leg_sid).present
    assert CallEvent.objects.filter(call=call, kind="monitor").count() == 3


def test_a_call_not_bridged_through_a_conference_is_409_with_the_reason(
    twilio_post, phone_number, tenant, clean_log, supervisor_user, scheduled
):
    # given the flag off (the default): the call is a <Dial> bridge
    answered = answered_call(twilio_post, tenant)
    response = _press(_login(supervisor_user), answered.call, "listen")
    assert response.status_code == 409
    assert "not bridged through a conference" in response.content.decode()
    assert scheduled == []
    # stopping what was never started is 409 too
    response = _press(_login(supervisor_user), answered.call, "stop")
    assert response.status_code == 409
    assert "not monitoring" in response.content.decode()


def test_who_may_press_the_buttons(
    twilio_post,
    phone_number,
    tenant,
    other_tenant,
    clean_log,
    client,
    bridge_on,
    scheduled,
    manager_user,
):
    bridged = bridged_call(twilio_post, tenant, client)
    call = bridged.call
    # another tenant's supervisor: 404, as if the call did not exist
    assert _press(_login(member(other_tenant, Role.SUPERVISOR)), call, "listen").status_code == 404
    # an agent of the tenant: 403
    assert _press(_login(bridged.agent.user), call, "listen").status_code == 403
    # not logged in: sent to log in
    assert (
        Client().post(reverse("supervisor-call-monitor", args=[call.pk, "listen"])).status_code
        == 302
    )
    assert scheduled == []
    # a manager may; an unknown mode is 400; GET is not allowed
    manager = _login(manager_user)
    assert _press(manager, call, "shout").status_code == 400
    assert (
        manager.get(reverse("supervisor-call-monitor", args=[call.pk, "listen"])).status_code == 405
    )
    assert _press(manager, call, "listen").status_code == 200


def test_the_wallboard_shows_the_buttons_in_the_row_of_an_agent_on_a_call(
    twilio_post, phone_number, tenant, clean_log, supervisor_user, settings
):
    answered = answered_call(twilio_post, tenant)
    panel = reverse("supervisor-panel", args=["agents"])
    # with the bridge off (the default) there is nothing to monitor with: no buttons
    html = _login(supervisor_user).get(panel).content.decode()
    assert f'id="sv-monitor-{answered.call.pk}"' not in html
    settings.TELEPHONY_CONFERENCE_BRIDGE = True
    response = _login(supervisor_user).get(panel)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="sv-monitor-{answered.call.pk}"' in html
    assert reverse("supervisor-call-monitor", args=[answered.call.pk, "barge"]) in html
