"""The agent's call script panel in the workspace: start a script for the current call, step
through it with back/next, reload without losing anything, and its outcome becomes the call's
disposition."""

from __future__ import annotations

import pytest

from crm.models import Role
from surveys.models import DispositionState, ResponseStatus, SurveyResponse
from surveys.selectors import answer_values
from surveys.services.runs import call_ended
from telephony.models import Call
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, UserFactory
from tests.surveys.support import script_survey
from tests.telephony.conftest import call_params
from tests.telephony.incall_support import answered_call, disposition, known_caller

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_call(twilio_post, phone_number, tenant, clean_log):
    """A known caller answered by an agent, and the tenant's sales script."""
    contact = known_caller(tenant)
    contact.first_name = "Søren"
    contact.save()
    answered = answered_call(twilio_post, tenant)
    user = answered.agent.user
    user.first_name = "Ida"
    user.save()
    script = script_survey(tenant)
    for code in ("sale", "not_interested", "callback"):
        disposition(tenant, code, code.replace("_", " ").title())
    return answered, script, contact


def post(client, url: str, **data):
    return client.post(url, data)


def test_an_agent_runs_the_script_on_the_current_call(client, on_call, tenant, twilio_post):
    answered, script, contact = on_call
    client.force_login(answered.agent.user)

    # the workspace page holds the panel, which offers the script for the current call
    assert 'id="script-panel"' in client.get("/agent/").content.decode()
    panel = client.get("/agent/script/")
    assert panel.status_code == 200
    assert panel.context["call"] == answered.call
    assert script in panel.context["scripts"]

    # starting it shows the say step with the placeholders filled
    panel = post(client, "/agent/script/start/", survey=script.pk, call=answered.call.pk)
    assert panel.status_code == 200
    assert "Hej Søren, jeg hedder Ida fra Nordlys Energi." in panel.content.decode()
    response = SurveyResponse.objects.get()
    assert (response.call, response.contact, response.agent) == (
        answered.call,
        contact,
        answered.agent,
    )
    base = f"/agent/script/{response.pk}"
    post(client, f"{base}/answer/", step="intro")
    panel = post(client, f"{base}/answer/", step="interested", value="yes")
    assert panel.context["step"].key == "product"

    # a reload shows the same step; back shows the earlier answer as given
    assert client.get("/agent/script/").context["step"].key == "product"
    panel = post(client, f"{base}/back/")
    assert (panel.context["step"].key, panel.context["given"]) == ("interested", ["yes"])
    post(client, f"{base}/answer/", step="interested", value="yes")
    panel = post(client, f"{base}/answer/", step="product", value="fixed")
    assert panel.context["step"].key == "kwh"

    # bad input: 400 with the reason, the earlier answers kept
    panel = post(client, f"{base}/answer/", step="kwh", value="lots")
    assert panel.status_code == 400
    assert "“lots” is not a number." in panel.content.decode()
    panel = post(client, f"{base}/answer/", step="callback", value="2026-12-01")
    assert panel.status_code == 400
    assert "not on this response" in panel.content.decode()

    # the last answer ends the branch with "sale"; the agent is still connected
    panel = post(client, f"{base}/answer/", step="kwh", value="3500")
    response.refresh_from_db()
    assert (response.status, response.outcome) == (ResponseStatus.COMPLETED, "sale")
    assert response.disposition_state == DispositionState.PENDING
    assert panel.context["pending"] is True
    assert answer_values(response) == {"interested": "yes", "product": "fixed", "kwh": "3500"}

    # when the agent's leg ends, "set disposition now" wraps the call up with the outcome
    twilio_post(
        answered.dial_url,
        call_params(answered.call.sid, DialCallStatus="completed", DialCallDuration="60"),
    )
    panel = post(client, f"{base}/disposition/")
    assert panel.context["applied"] is True
    call = Call.objects.select_related("disposition").get(pk=answered.call.pk)
    assert call.disposition.code == "sale"


def test_a_pending_outcome_is_applied_when_the_call_ends(client, on_call, twilio_post):
    answered, script, _ = on_call
    client.force_login(answered.agent.user)
    post(client, "/agent/script/start/", survey=script.pk, call=answered.call.pk)
    response = SurveyResponse.objects.get()
    post(client, f"/agent/script/{response.pk}/answer/", step="intro")
    post(client, f"/agent/script/{response.pk}/answer/", step="interested", value="no")
    response.refresh_from_db()
    assert response.outcome == "not_interested"
    assert response.disposition_state == DispositionState.PENDING

    # the caller and agent hang up; the call-ended event settles the disposition
    twilio_post(
        answered.dial_url,
        call_params(answered.call.sid, DialCallStatus="completed", DialCallDuration="30"),
    )
    call_ended(call_id=answered.call.pk)
    response.refresh_from_db()
    assert response.disposition_state == DispositionState.APPLIED
    assert Call.objects.get(pk=answered.call.pk).disposition.code == "not_interested"


def test_a_script_can_be_stopped_and_its_answers_kept(client, on_call):
    answered, script, _ = on_call
    client.force_login(answered.agent.user)
    post(client, "/agent/script/start/", survey=script.pk, call=answered.call.pk)
    response = SurveyResponse.objects.get()
    post(client, f"/agent/script/{response.pk}/answer/", step="intro")
    post(client, f"/agent/script/{response.pk}/answer/", step="interested", value="yes")
    panel = post(client, f"/agent/script/{response.pk}/end/")
    assert panel.status_code == 200
    response.refresh_from_db()
    assert response.status == ResponseStatus.ENDED
    assert answer_values(response) == {"interested": "yes"}
    # the panel then offers a new script
    assert client.get("/agent/script/").context["response"] is None


def test_another_agents_script_is_not_found(client, on_call, tenant, other_tenant):
    answered, script, _ = on_call
    client.force_login(answered.agent.user)
    post(client, "/agent/script/start/", survey=script.pk, call=answered.call.pk)
    response = SurveyResponse.objects.get()
    colleague = AgentProfileFactory(tenant=tenant)
    client.force_login(colleague.user)
    assert client.get(f"/agent/script/?response={response.pk}").status_code == 404
    assert post(client, f"/agent/script/{response.pk}/answer/", step="intro").status_code == 404
    assert (
        post(client, "/agent/script/start/", survey=script.pk, call=answered.call.pk).status_code
        == 404
    )
    stranger = AgentProfileFactory(tenant=other_tenant)
    client.force_login(stranger.user)
    assert client.get(f"/agent/script/?response={response.pk}").status_code == 404
    panel = post(client, "/agent/script/start/", survey=script.pk)
    assert panel.status_code == 400
    client.force_login(member(tenant, Role.VIEWER, user=UserFactory(username="viewer2")))
    assert client.get("/agent/script/").status_code == 403
