"""Post-call IVR surveys through the simulated Twilio's real webhook path: a caller reaches an
agent, the agent hangs up, the caller answers the queue's survey with keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Offer, Presence
from surveys.models import Answer, QueueSurvey, ResponseStatus, SurveyResponse
from surveys.selectors import answer_values
from surveys.services.ivr import TEXTS
from surveys.services.runs import call_ended
from telephony.models import Call
from telephony.simulator import CallScript, DialOutcome, DjangoClientTransport, SimulatedCall
from telephony.tasks import ring_agent
from tests.crm.factories import AgentProfileFactory, ContactFactory, ContactIdentityFactory
from tests.surveys.support import csat_survey
from tests.telephony.conftest import CALLER, NUMBER, call_params, new_call_sid

pytestmark = pytest.mark.django_db
DA = TEXTS["da"]


@pytest.fixture
def agent(tenant):
    return AgentProfileFactory(
        tenant=tenant,
        presence=Presence.AVAILABLE,
        last_idle_at=timezone.now() - timedelta(minutes=5),
    )


@pytest.fixture
def survey(tenant, support_queue):
    survey = csat_survey(tenant)
    QueueSurvey.objects.create(tenant=tenant, queue=support_queue, survey=survey)
    return survey


def worker(sim) -> None:
    """What the Celery worker does meanwhile: ring the agents offered the call."""
    row = Call.objects.filter(sid=sim.call_sid).first()
    if row is None or row.work_item_id is None or row.ringing_offer_id:
        return
    for offer in Offer.objects.filter(work_item_id=row.work_item_id, status="pending"):
        ring_agent(call_id=row.pk, offer_id=offer.pk)


def call_and_answer(*presses: str):
    """A caller presses 1 for the support queue, talks to the agent, then keys `presses`."""
    return SimulatedCall(
        transport=DjangoClientTransport(),
        to=NUMBER,
        from_=CALLER,
        script=CallScript(
            presses=["1", *presses],
            dial_outcomes=[DialOutcome("answered", ring_seconds=2, talk_seconds=60)],
            on_wait=worker,
        ),
    ).run()


def test_the_caller_answers_the_queues_survey_after_the_agent_hangs_up(
    phone_number, survey, agent, tenant, clean_rest_log
):
    # given a known caller
    contact = ContactFactory(tenant=tenant, first_name="Søren")
    ContactIdentityFactory(contact=contact, value=CALLER)

    # when the caller talks to the agent, who hangs up, and then answers 4, yes, 9
    result = call_and_answer("4", "1", "9")

    # then every webhook succeeded and the caller heard the survey in Danish
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    heard = result.heard
    assert DA["intro"] in heard
    assert "Hvor tilfreds var du med hjælpen?" in heard
    assert DA["rating"] in heard
    assert heard[-1] == DA["thanks"]
    # and the response is complete, linked to the call, its contact, agent and queue
    response = SurveyResponse.objects.get()
    call = Call.objects.get(sid=result.call_sid)
    assert (response.mode, response.status) == ("ivr", ResponseStatus.COMPLETED)
    assert (response.call, response.contact, response.agent, response.queue) == (
        call,
        contact,
        agent,
        call.queue,
    )
    assert answer_values(response) == {"csat": "4", "resolved": "yes", "nps": "9"}
    assert response.language == "da"


def test_a_key_matching_no_choice_is_asked_again_then_the_survey_ends_politely(
    phone_number, survey, agent, clean_rest_log
):
    # when the caller rates 5, then presses 7, 8 and nothing for "resolved?"
    result = call_and_answer("5", "7", "8", "")

    # then they were asked again twice and heard a polite goodbye
    heard = result.heard
    assert heard.count(DA["invalid"]) == 2
    assert heard.count("Blev dit problem løst?") == 3
    assert heard[-2:] == [DA["silence"], DA["goodbye"]]
    # and the partial response keeps the rating
    response = SurveyResponse.objects.get()
    assert response.status == ResponseStatus.ENDED
    assert answer_values(response) == {"csat": "5"}


def test_without_a_survey_on_the_queue_the_caller_is_hung_up(phone_number, agent, tenant):
    csat_survey(tenant)  # exists, but no queue asks it
    result = call_and_answer("4")
    assert DA["intro"] not in result.heard
    assert not SurveyResponse.objects.exists()


def test_the_survey_webhook_refuses_unsigned_requests_and_other_calls(
    twilio_post, client, tenant, survey, phone_number
):
    call = Call.objects.create(
        tenant=tenant, sid=new_call_sid(), direction="inbound", from_number=CALLER, to_number=NUMBER
    )
    from surveys.services.runs import response_start

    response = response_start(survey=survey, mode="ivr", call=call)
    path = f"/hooks/twilio/voice/survey/{response.pk}/csat/0/"
    assert client.post(path, call_params(call.sid, Digits="4")).status_code == 403
    assert twilio_post(path, call_params(new_call_sid(), Digits="4")).status_code == 404
    assert twilio_post(path, {"Digits": "4"}).status_code == 400
    assert not Answer.objects.exists()

    # a repeated delivery of an answered step repeats the current question, stores nothing new
    assert twilio_post(path, call_params(call.sid, Digits="4")).status_code == 200
    again = twilio_post(path, call_params(call.sid, Digits="2")).content.decode()
    assert "Blev dit problem løst?" in again
    assert list(Answer.objects.values_list("step__key", "choice")) == [("csat", "4")]


def test_a_caller_hanging_up_mid_survey_leaves_a_partial_response(tenant, survey):
    call = Call.objects.create(
        tenant=tenant, sid=new_call_sid(), direction="inbound", from_number=CALLER, to_number=NUMBER
    )
    from surveys.services.runs import response_answer, response_start

    response = response_start(survey=survey, mode="ivr", call=call)
    response_answer(response=response, step_key="csat", value="3")
    call_ended(call_id=call.pk)
    response.refresh_from_db()
    assert response.status == ResponseStatus.ENDED
    assert answer_values(response) == {"csat": "3"}


def test_a_queue_may_ask_the_caller_first(phone_number, survey, agent, clean_rest_log):
    QueueSurvey.objects.update(ask_first=True)

    # a caller who agrees with 1 answers the survey
    result = call_and_answer("1", "5", "1", "10")
    assert DA["consent"] in result.heard
    assert result.heard[-1] == DA["thanks"]
    response = SurveyResponse.objects.get()
    assert answer_values(response) == {"csat": "5", "resolved": "yes", "nps": "10"}


def test_a_caller_who_declines_hears_goodbye_and_nothing_is_stored(
    phone_number, survey, agent, clean_rest_log
):
    QueueSurvey.objects.update(ask_first=True)
    result = call_and_answer("2")
    assert [e.status for e in result.exchanges if e.status >= 300] == []
    assert result.heard[-2:] == [DA["consent"], DA["goodbye"]]
    assert not SurveyResponse.objects.exists()


def test_the_consent_webhook_refuses_unsigned_requests_and_other_calls(
    twilio_post, client, tenant, survey, phone_number, support_queue
):
    setting = QueueSurvey.objects.get()
    call = Call.objects.create(
        tenant=tenant,
        sid=new_call_sid(),
        direction="inbound",
        from_number=CALLER,
        to_number=NUMBER,
        queue=support_queue,
    )
    path = f"/hooks/twilio/voice/survey/consent/{call.pk}/{setting.pk}/"
    assert client.post(path, call_params(call.sid, Digits="1")).status_code == 403
    assert twilio_post(path, call_params(new_call_sid(), Digits="1")).status_code == 404
    assert not SurveyResponse.objects.exists()
    body = twilio_post(path, call_params(call.sid, Digits="1")).content.decode()
    assert "Hvor tilfreds var du med hjælpen?" in body
    # the same press delivered again continues the one survey
    assert "Hvor tilfreds" in twilio_post(path, call_params(call.sid, Digits="1")).content.decode()
    assert SurveyResponse.objects.count() == 1
