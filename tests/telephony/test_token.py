"""The softphone token endpoint: only agents get one, for their own identity."""

from __future__ import annotations

import time

import jwt
import pytest
from django.conf import settings
from django.urls import reverse

from crm.models import Membership, Role
from telephony.providers.simulated import simulator_token_secret
from telephony.simulator import softphone
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory
from tests.telephony import simulator_support

pytestmark = pytest.mark.django_db

URL = "/telephony/token/"

clean_rest_log = simulator_support.clean_rest_log


def test_the_url_is_mounted():
    assert reverse("telephony-token") == URL


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    # when someone not signed in asks for a token
    response = client.get(URL)
    # then they are redirected to the login page and get no token
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_an_agent_gets_a_voice_token_for_their_own_identity(client, tenant):
    # given a signed-in agent
    agent = AgentProfileFactory(tenant=tenant)
    client.force_login(agent.user)
    # when the softphone asks for a token
    response = client.get(URL)
    # then it gets a JWT for "agent_<user id>" that may receive calls
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    body = response.json()
    assert body["identity"] == f"agent_{agent.user.pk}"
    assert body["simulated"] is True
    claims = jwt.decode(body["token"], simulator_token_secret(), algorithms=["HS256"])
    assert claims["grants"]["identity"] == body["identity"]
    assert claims["grants"]["voice"]["incoming"] == {"allow": True}
    assert claims["sub"] == settings.TWILIO_EFFECTIVE_ACCOUNT_SID
    assert 0 < claims["exp"] - time.time() <= 3600 + 5


def test_a_user_without_an_agent_profile_is_refused(client, tenant):
    # given a manager of the tenant who does not take calls
    manager = member(tenant, Role.MANAGER)
    client.force_login(manager)
    # when they ask for a token
    response = client.get(URL)
    # then they are refused
    assert response.status_code == 403
    assert "token" not in response.json()


def test_an_agent_profile_without_membership_is_refused(client, tenant, other_tenant):
    # given an agent profile left behind in a tenant the user no longer belongs to
    agent = AgentProfileFactory(tenant=tenant)
    Membership.objects.filter(user=agent.user).delete()
    client.force_login(agent.user)
    # when they ask for a token
    response = client.get(URL)
    # then they are refused
    assert response.status_code == 403


def test_only_get_is_allowed(client, tenant):
    agent = AgentProfileFactory(tenant=tenant)
    client.force_login(agent.user)
    assert client.post(URL).status_code == 405


CALLS = "/telephony/simulator/calls/"


@pytest.fixture
def ringing_leg(tenant, clean_rest_log):
    """A simulated call ringing an agent's softphone (as `SimulatedCall` announces it)."""
    agent = AgentProfileFactory(tenant=tenant)
    leg_sid = "CA" + "7" * 32
    softphone.leg_announce(
        identity=f"agent_{agent.user.pk}",
        leg_sid=leg_sid,
        call_sid="CA" + "1" * 32,
        from_="+4520304050",
        state="ringing",
    )
    return agent, leg_sid


def test_the_softphone_lists_the_calls_ringing_it(client, ringing_leg):
    # given an agent whose softphone a simulated call rings
    agent, leg_sid = ringing_leg
    client.force_login(agent.user)
    # when the softphone (simulator mode) asks what is ringing
    response = client.get(CALLS)
    # then it sees the caller's number and the leg to answer
    assert response.status_code == 200
    [leg] = response.json()["legs"]
    assert (leg["leg_sid"], leg["state"], leg["from"]) == (leg_sid, "ringing", "+4520304050")


def test_the_agent_accepts_their_own_ringing_call(client, ringing_leg):
    # given an agent whose softphone rings
    agent, leg_sid = ringing_leg
    client.force_login(agent.user)
    # when they press hang up before answering, then accept
    hangup = client.post(f"{CALLS}{leg_sid}/hangup/")
    accept = client.post(f"{CALLS}{leg_sid}/accept/")
    # then only the accept fits a ringing call, and the simulated call will act on it
    assert hangup.status_code == 409
    assert accept.status_code == 204
    assert softphone.pop_decision(leg_sid) == "accept"


def test_another_agent_cannot_answer_someone_elses_call(client, tenant, ringing_leg):
    # given a ringing call for one agent, and a colleague
    _, leg_sid = ringing_leg
    colleague = AgentProfileFactory(tenant=tenant)
    client.force_login(colleague.user)
    # when the colleague tries to accept it, and lists their own calls
    response = client.post(f"{CALLS}{leg_sid}/accept/")
    # then they are refused and see nothing
    assert response.status_code == 409
    assert softphone.pop_decision(leg_sid) is None
    assert client.get(CALLS).json() == {"legs": []}


def test_the_simulator_endpoints_are_for_agents_in_simulator_mode_only(
    client, tenant, settings, ringing_leg
):
    _, leg_sid = ringing_leg
    assert client.get(CALLS).status_code == 302  # anonymous: log in first
    client.force_login(member(tenant, Role.MANAGER))
    assert client.get(CALLS).status_code == 403
    assert client.post(f"{CALLS}{leg_sid}/accept/").status_code == 403
    settings.TWILIO_SIMULATED = False
    assert client.get(CALLS).status_code == 404
