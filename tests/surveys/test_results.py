"""Results page and CSV export against a hand-computed fixture, its query count, and who may
see it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Role
from surveys.models import Answer, SurveyResponse
from surveys.selectors import ResultFilter, survey_results
from surveys.services.runs import response_answer, response_end, response_start
from tests.conftest import member
from tests.crm.factories import AgentProfileFactory, QueueFactory, UserFactory
from tests.surveys.support import csat_survey

pytestmark = pytest.mark.django_db

# (queue, agent, day of November 2026, answers in order, how it ends)
FIXTURE = [
    ("support", "anna", 2, ["5", "yes", "10"], "completed"),
    ("support", "anna", 2, ["4", "yes", "9"], "completed"),
    ("support", "bo", 3, ["2", "no", "3"], "completed"),
    ("sales", "bo", 3, ["3", "no", "7"], "completed"),
    ("sales", "anna", 4, ["5"], "ended"),
    ("sales", "bo", 4, [], "open"),
]
KEYS = ["csat", "resolved", "nps"]


@pytest.fixture
def fixture(tenant):
    survey = csat_survey(tenant)
    queues = {
        "support": QueueFactory(tenant=tenant, name="Support"),
        "sales": QueueFactory(tenant=tenant, name="Salg"),
    }
    agents = {
        name: AgentProfileFactory(
            tenant=tenant, user=UserFactory(username=name, first_name=name.title(), last_name="")
        )
        for name in ("anna", "bo")
    }
    rows = []
    for queue, agent, day, answers, end in FIXTURE:
        response = add_response(survey, queues[queue], agents[agent], day, answers, end)
        rows.append(response)
    return survey, queues, agents, rows


def add_response(survey, queue, agent, day, answers, end):
    response = response_start(survey=survey, mode="ivr", queue=queue, agent=agent)
    for key, value in zip(KEYS, answers, strict=False):
        response = response_answer(response=response, step_key=key, value=value)
    if end == "ended":
        response = response_end(response=response)
    started = datetime(2026, 11, day, 12, 0, tzinfo=UTC)
    # Answers carry their response's start (copied when given): both move together here.
    SurveyResponse.objects.filter(pk=response.pk).update(
        started_at=started, started_on=started.date()
    )
    Answer.objects.filter(response=response).update(started_at=started)
    response.refresh_from_db()
    return response


def test_the_results_match_the_hand_computed_figures(fixture):
    survey, _queues, _agents, _ = fixture
    results = survey_results(survey=survey, filters=ResultFilter())

    assert (results.responses, results.completed, results.ended) == (6, 4, 1)
    assert results.completion_rate == 66.7
    csat, resolved, nps = results.questions
    assert [(b.value, b.count, b.percent) for b in csat.bars] == [
        ("1", 0, 0.0),
        ("2", 1, 20.0),
        ("3", 1, 20.0),
        ("4", 1, 20.0),
        ("5", 2, 40.0),
    ]
    assert (csat.answered, str(csat.average_text), csat.csat) == (5, "3.8", 60.0)
    assert [(b.value, b.count, b.percent) for b in resolved.bars] == [
        ("yes", 2, 50.0),
        ("no", 2, 50.0),
    ]
    assert (nps.answered, nps.average_text, nps.nps) == (4, "7.25", 25.0)
    assert [c for b in nps.bars if (c := (b.value, b.count))[1]] == [
        ("3", 1),
        ("7", 1),
        ("9", 1),
        ("10", 1),
    ]
    assert (results.nps, results.csat) == (25.0, 60.0)

    table = [(g.label, g.responses, g.completed, g.nps, g.csat) for g in results.by_queue]
    assert table == [("Salg", 3, 1, 0.0, 50.0), ("Support", 3, 3, 33.3, 66.7)]
    table = [(g.label, g.responses, g.completed, g.nps, g.csat) for g in results.by_agent]
    assert table == [("Anna", 3, 2, 100.0, 100.0), ("Bo", 3, 2, -50.0, 0.0)]
    table = [(g.label, g.responses, g.completed, g.nps, g.csat) for g in results.by_period]
    assert table == [
        ("2026-11-02", 2, 2, 100.0, 100.0),
        ("2026-11-03", 2, 2, -50.0, 0.0),
        ("2026-11-04", 2, 0, None, 100.0),
    ]


def test_filters_narrow_every_figure(fixture):
    survey, queues, agents, _ = fixture
    support = survey_results(survey=survey, filters=ResultFilter(queue_id=queues["support"].pk))
    assert (support.responses, support.completed, support.completion_rate) == (3, 3, 100.0)
    assert (support.nps, support.csat) == (33.3, 66.7)
    late = survey_results(
        survey=survey,
        filters=ResultFilter(
            date_from=datetime(2026, 11, 3).date(), date_to=datetime(2026, 11, 3).date()
        ),
    )
    assert (late.responses, late.nps, late.csat) == (2, -50.0, 0.0)
    bo = survey_results(survey=survey, filters=ResultFilter(agent_id=agents["bo"].pk))
    assert (bo.responses, bo.nps) == (3, -50.0)
    # weeks start on Monday 2 November 2026; all six responses fall in that week and month
    for period, label in (("week", "2026-11-02"), ("month", "2026-11-01")):
        grouped = survey_results(survey=survey, filters=ResultFilter(period=period))
        table = [(g.label, g.responses, g.completed, g.nps, g.csat) for g in grouped.by_period]
        assert table == [(label, 6, 4, 25.0, 60.0)]


@pytest.fixture
def supervisor(tenant):
    return member(tenant, Role.SUPERVISOR, user=UserFactory(username="sup"))


def test_the_results_page_shows_the_figures_and_an_svg_chart(client, fixture, supervisor):
    survey = fixture[0]
    client.force_login(supervisor)
    page = client.get(f"/surveys/{survey.pk}/results/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<div class="kpi" id="kpi-completion">Completion rate<strong>66.7 %</strong>' in html
    assert 'id="kpi-nps">NPS<strong>25.0</strong>' in html
    assert 'id="kpi-csat">CSAT<strong>60.0 %</strong>' in html
    assert html.count("<svg") == 3
    assert "2 (40.0 %)" in html
    assert "<td>Support</td><td>3</td><td>3</td><td>33.3</td><td>66.7 %</td>" in html
    filtered = client.get(f"/surveys/{survey.pk}/results/?queue={fixture[1]['sales'].pk}")
    assert filtered.context["results"].responses == 3


def test_the_export_streams_one_row_per_response(client, fixture, supervisor):
    survey, _, _, rows = fixture
    client.force_login(supervisor)
    response = client.get(f"/surveys/{survey.pk}/results/export.csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:4] == ["response_id", "version", "mode", "status"]
    assert table[0][-3:] == KEYS
    got = [(r[0], r[3], r[7], r[8], r[-3], r[-2], r[-1]) for r in table[1:]]
    assert got == [
        (str(rows[0].pk), "completed", "Support", "anna", "5", "yes", "10"),
        (str(rows[1].pk), "completed", "Support", "anna", "4", "yes", "9"),
        (str(rows[2].pk), "completed", "Support", "bo", "2", "no", "3"),
        (str(rows[3].pk), "completed", "Salg", "bo", "3", "no", "7"),
        (str(rows[4].pk), "ended", "Salg", "anna", "5", "", ""),
        (str(rows[5].pk), "in_progress", "Salg", "bo", "", "", ""),
    ]


def test_the_results_page_costs_the_same_queries_for_5_and_30_responses(
    client, tenant, supervisor, django_assert_num_queries
):
    survey = csat_survey(tenant)
    queue = QueueFactory(tenant=tenant)

    def fill(total: int) -> None:
        while SurveyResponse.objects.filter(survey=survey).count() < total:
            agent = AgentProfileFactory(tenant=tenant)
            add_response(survey, queue, agent, 5, ["4", "yes", "8"], "completed")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/surveys/{survey.pk}/results/").status_code == 200
        return len(captured)

    client.force_login(supervisor)
    fill(5)
    few = queries()
    fill(30)
    with django_assert_num_queries(few):
        client.get(f"/surveys/{survey.pk}/results/")


def test_only_the_tenants_supervisors_see_results(client, tenant, other_tenant, agent_user):
    mine = csat_survey(tenant)
    theirs = csat_survey(other_tenant)
    client.force_login(member(tenant, Role.SUPERVISOR, user=UserFactory(username="s2")))
    assert client.get(f"/surveys/{theirs.pk}/results/").status_code == 404
    assert client.get(f"/surveys/{theirs.pk}/results/export.csv").status_code == 404
    client.force_login(agent_user)
    assert client.get(f"/surveys/{mine.pk}/results/").status_code == 403
    client.logout()
    assert client.get(f"/surveys/{mine.pk}/results/").status_code == 302


def test_results_per_version_and_across_versions(tenant):
    # given v1 with two answers, then v2 (the rating question kept) with one more
    from surveys.services.builder import (
        survey_version_new_draft,
        survey_version_publish,
        survey_version_set_steps,
    )
    from tests.surveys.support import CSAT_STEPS

    survey = csat_survey(tenant)
    v1 = survey.versions.get()
    for answers in (["5", "yes", "10"], ["1", "no", "0"]):
        add_response(survey, None, None, 2, answers, "completed")
    draft = survey_version_new_draft(survey=survey)
    survey_version_set_steps(version=draft, steps=[CSAT_STEPS[0], CSAT_STEPS[2]])
    survey_version_publish(version=draft)
    response = response_start(survey=survey, mode="web")
    response_answer(response=response, step_key="csat", value="4")
    response_answer(response=response, step_key="nps", value="9")

    # then each version counts its own, and all versions together combine by step key
    only_v1 = survey_results(survey=survey, filters=ResultFilter(version_id=v1.pk))
    assert (only_v1.responses, only_v1.csat, only_v1.nps) == (2, 50.0, 0.0)
    assert [q.key for q in only_v1.questions] == ["csat", "resolved", "nps"]
    only_v2 = survey_results(survey=survey, filters=ResultFilter(version_id=draft.pk))
    assert (only_v2.responses, only_v2.csat, only_v2.nps) == (1, 100.0, 100.0)
    assert [q.key for q in only_v2.questions] == ["csat", "nps"]
    both = survey_results(survey=survey)
    assert (both.responses, both.csat, both.nps) == (3, 66.7, 33.3)
    assert [q.key for q in both.questions] == ["csat", "nps", "resolved"]
    assert both.questions[0].average_text == "3.33"


def test_a_survey_without_responses_shows_zeros(tenant):
    results = survey_results(survey=csat_survey(tenant))
    assert (results.responses, results.completed, results.completion_rate) == (0, 0, None)
    assert (results.nps, results.csat, results.by_queue, results.by_period) == (None, None, [], [])
    assert [bar.count for bar in results.questions[0].bars] == [0, 0, 0, 0, 0]
