"""Survey results: responses, completion, distribution per question, NPS and CSAT, by queue,
agent and period - computed by the database.

Two GROUP BY queries do the work whatever the number of answers, with no join: the answers per
step and value (COUNT(*) in the order of their index, so PostgreSQL reads the index alone), and
the responses per queue, agent and day with conditional counts (completed, promoters,
detractors, satisfied), rolled up into the totals, the three breakdowns and weeks or months
(on PostgreSQL by GROUPING SETS over those few thousand groups in the same statement; elsewhere
in Python). Answers carry their response's queue, agent and start (for filters); responses their
start day in the tenant's time zone and their first NPS and rating answer (for the breakdowns).

NPS: promoters (9-10) minus detractors (0-6), in % of the NPS question's answers. CSAT: the
share of 4 and 5 among a rating question's answers. The headline figures are the survey's first
NPS and first rating question's; the breakdowns use each response's first NPS and rating answer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, Sum

from crm.models import AgentProfile, Queue
from surveys.flow import StepSpec, format_number
from surveys.models import Answer, ResponseStatus, Step, StepKind, Survey, SurveyResponse

PERIODS = ("day", "week", "month")
GROUP_KINDS = ("queue", "agent", "period")
# The first day of the period a day belongs to (weeks start on Monday).
SCORE_FIELDS = ("responses", "completed", "nps_n", "promoters", "detractors", "csat_n", "satisfied")
_PERIOD_START = {
    "day": lambda day: day,
    "week": lambda day: day - timedelta(days=day.weekday()),
    "month": lambda day: day.replace(day=1),
}


@dataclass(frozen=True)
class ResultFilter:
    version_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    queue_id: int | None = None
    agent_id: int | None = None
    mode: str = ""
    period: str = "day"


@dataclass
class Bar:
    value: str
    label: str
    count: int
    percent: float


@dataclass
class Question:
    key: str
    kind: str
    text: str
    answered: int = 0
    bars: list[Bar] = field(default_factory=list)
    average: Decimal | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    nps: float | None = None
    csat: float | None = None

    @property
    def chart_height(self) -> int:
        return 10 * len(self.bars)

    @property
    def average_text(self) -> str:
        return format_number(round(self.average, 2)) if self.average is not None else ""


@dataclass
class Group:
    label: str
    responses: int = 0
    completed: int = 0
    nps_answers: int = 0
    nps: float | None = None
    csat_answers: int = 0
    csat: float | None = None


@dataclass
class Results:
    survey: Survey
    filters: ResultFilter
    responses: int
    completed: int
    ended: int
    completion_rate: float | None
    questions: list[Question]
    nps: float | None
    csat: float | None
    nps_key: str | None
    csat_key: str | None
    by_queue: list[Group]
    by_agent: list[Group]
    by_period: list[Group]


def percent(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def nps_of(promoters: int, detractors: int, answers: int) -> float | None:
    return round((promoters - detractors) * 100 / answers, 1) if answers else None


# --- what the database computes --------------------------------------------------------------


@dataclass
class ValueRow:
    step_id: int
    choice: str
    n: int
    numbers: int
    total: Decimal | None
    low: Decimal | None
    high: Decimal | None


@dataclass
class ScoreRow:
    responses: int = 0
    completed: int = 0
    nps_n: int = 0
    promoters: int = 0
    detractors: int = 0
    csat_n: int = 0
    satisfied: int = 0


@dataclass
class Aggregates:
    overall: ScoreRow = field(default_factory=ScoreRow)
    ended: int = 0
    values: list[ValueRow] = field(default_factory=list)
    # kind ("queue", "agent", "period") -> group key -> responses, completion and scores
    groups: dict[str, dict[object, ScoreRow]] = field(default_factory=dict)


def _zone(survey: Survey) -> ZoneInfo:
    return ZoneInfo(survey.tenant.time_zone or "UTC")


def bounds(survey: Survey, filters: ResultFilter) -> tuple[datetime | None, datetime | None]:
    """The filter's dates as instants in the tenant's time zone (the end day included)."""
    zone = _zone(survey)
    start = datetime.combine(filters.date_from, time.min, zone) if filters.date_from else None
    end = datetime.combine(filters.date_to, time.max, zone) if filters.date_to else None
    return start, end


def _common_q(survey: Survey, filters: ResultFilter) -> Q:
    q = Q(survey_id=survey.pk)
    if filters.version_id:
        q &= Q(version_id=filters.version_id)
    start, end = bounds(survey, filters)
    if start:
        q &= Q(started_at__gte=start)
    if end:
        q &= Q(started_at__lte=end)
    if filters.queue_id:
        q &= Q(queue_id=filters.queue_id)
    if filters.agent_id:
        q &= Q(agent_id=filters.agent_id)
    return q


def response_q(survey: Survey, filters: ResultFilter) -> Q:
    """The filter on the survey's responses."""
    q = _common_q(survey, filters)
    return q & Q(mode=filters.mode) if filters.mode else q


def answer_q(survey: Survey, filters: ResultFilter) -> Q:
    """The same filter on the answers, through the columns copied from their response."""
    q = _common_q(survey, filters)
    return q & Q(response__mode=filters.mode) if filters.mode else q


def _values(survey: Survey, filters: ResultFilter, number_step_ids: list[int]) -> list[ValueRow]:
    """Answers per step and value. COUNT(*) only, grouped in the order of the answers' index
    (survey, version, step, choice), so PostgreSQL can read the index alone; ratings and NPS
    scores are their choice, so their sums come from these counts. Free numbers (no choice)
    get their sum, minimum and maximum from a second, narrow query."""
    answers = Answer.objects.filter(answer_q(survey, filters))
    rows = answers.values("version_id", "step_id", "choice").annotate(n=Count("*")).order_by()
    numeric = {}
    if number_step_ids:
        numeric = {
            row["step_id"]: row
            for row in answers.filter(step_id__in=number_step_ids)
            .values("step_id")
            .annotate(
                numbers=Count("number"), total=Sum("number"), low=Min("number"), high=Max("number")
            )
            .order_by()
        }
    values = []
    for row in rows:
        extra = numeric.get(row["step_id"])
        if extra is not None:
            values.append(
                ValueRow(
                    row["step_id"],
                    row["choice"],
                    row["n"],
                    extra["numbers"],
                    extra["total"],
                    extra["low"],
                    extra["high"],
                )
            )
        elif row["choice"].lstrip("-").isdigit():
            number = Decimal(row["choice"])
            values.append(
                ValueRow(
                    row["step_id"],
                    row["choice"],
                    row["n"],
                    row["n"],
                    number * row["n"],
                    number,
                    number,
                )
            )
        else:
            values.append(ValueRow(row["step_id"], row["choice"], row["n"], 0, None, None, None))
    return values


def _tune_for_aggregation() -> None:
    """PostgreSQL settings for this transaction only: JIT compilation costs more than it saves
    on these short aggregations (seconds against milliseconds, measured), and a roomier
    work_mem lets the planner hash the groups instead of sorting the rows."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")


def _aggregate(survey: Survey, filters: ResultFilter, number_step_ids: list[int]) -> Aggregates:
    """The values, then the responses grouped once by (queue, agent, day): at most a few
    thousand rows, rolled up here into the totals, the three breakdowns and weeks or months.
    One GROUP BY on plain columns (which PostgreSQL can run in parallel) instead of one per
    breakdown or GROUPING SETS (which it cannot)."""
    period = _PERIOD_START.get(filters.period, _PERIOD_START["day"])
    found = Aggregates(values=_values(survey, filters, number_step_ids))
    rows = (
        SurveyResponse.objects.filter(response_q(survey, filters))
        .values("queue_id", "agent_id", "started_on")
        .annotate(
            responses=Count("*"),
            completed=Count("pk", filter=Q(status=ResponseStatus.COMPLETED)),
            ended=Count("pk", filter=Q(status=ResponseStatus.ENDED)),
            nps_n=Count("nps_score"),
            promoters=Count("pk", filter=Q(nps_score__gte=9)),
            detractors=Count("pk", filter=Q(nps_score__lte=6)),
            csat_n=Count("csat_score"),
            satisfied=Count("pk", filter=Q(csat_score__gte=4)),
        )
        .order_by()
    )
    fields = ("queue_id", "agent_id", "started_on", "ended", *SCORE_FIELDS)
    if connection.vendor == "postgresql":
        _rollup_in_database(found, rows.values_list(*fields), filters.period)
        return found
    # Elsewhere summed here: plain lists (a few thousand rows, four targets each).
    width = len(SCORE_FIELDS)
    overall = [0] * width
    sums: dict[str, dict] = {kind: defaultdict(lambda: [0] * width) for kind in GROUP_KINDS}
    by_queue, by_agent, by_period = sums["queue"], sums["agent"], sums["period"]
    for queue_id, agent_id, day, ended, *counts in rows.values_list(*fields):
        found.ended += ended
        for target in (overall, by_queue[queue_id], by_agent[agent_id], by_period[period(day)]):
            for index, value in enumerate(counts):
                target[index] += value
    found.overall = ScoreRow(*overall)
    found.groups = {
        kind: {key: ScoreRow(*values) for key, values in groups.items()}
        for kind, groups in sums.items()
    }
    return found


def _rollup_in_database(found: Aggregates, fine, period: str) -> None:
    """PostgreSQL: the per (queue, agent, day) groups rolled up by GROUPING SETS over those few
    thousand rows, in the same statement, so only a few hundred rows reach Python."""
    unit = period if period in PERIODS else "day"
    inner, params = fine.query.sql_with_params()
    sums = ", ".join(f"SUM(f.{name})" for name in ("ended", *SCORE_FIELDS))
    # Only the ORM's own compiled SQL and fixed names are interpolated; values are parameters.
    sql = f"""
        SELECT GROUPING(f.queue_id), GROUPING(f.agent_id), GROUPING(f.period),
               f.queue_id, f.agent_id, f.period, {sums}
        FROM (
            SELECT i.*, date_trunc(%s, i.started_on)::date AS period FROM ({inner}) AS i
        ) AS f
        GROUP BY GROUPING SETS ((), (f.queue_id), (f.agent_id), (f.period))
    """  # noqa: S608
    found.groups = {kind: {} for kind in GROUP_KINDS}
    with connection.cursor() as cursor:
        cursor.execute(sql, [unit, *params])
        for no_queue, no_agent, no_period, queue_id, agent_id, day, ended, *counts in cursor:
            score = ScoreRow(*(int(value or 0) for value in counts))
            if no_queue and no_agent and no_period:
                found.overall, found.ended = score, int(ended or 0)
            elif not no_queue:
                found.groups["queue"][queue_id] = score
            elif not no_agent:
                found.groups["agent"][agent_id] = score
            else:
                found.groups["period"][day] = score


# --- from the figures to the page ------------------------------------------------------------


def _steps(survey: Survey, filters: ResultFilter) -> tuple[dict[int, Step], list[Step]]:
    """Step rows by id (every version's, to name answers) and one row per key to show, in the
    order of the chosen (else the newest) version, then keys only older versions had."""
    rows = list(
        Step.objects.filter(version__survey=survey)
        .select_related("version")
        .order_by("-version__number", "position", "pk")
    )
    by_id = {row.pk: row for row in rows}
    shown: dict[str, Step] = {}
    for row in rows:
        if filters.version_id and row.version_id != filters.version_id:
            continue
        shown.setdefault(row.key, row)
    return by_id, list(shown.values())


def steps_shown(survey: Survey, filters: ResultFilter) -> list[Step]:
    return _steps(survey, filters)[1]


def _question(step: Step, rows: list[ValueRow], answered: int) -> Question:
    question = Question(key=step.key, kind=step.kind, text=step.text, answered=answered)
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.choice] += row.n
    numbers = sum(row.numbers for row in rows)
    if numbers and step.kind in (StepKind.NUMBER, StepKind.NPS, StepKind.RATING):
        question.average = Decimal(sum(row.total for row in rows if row.total is not None)) / (
            numbers
        )
        question.minimum = min(row.low for row in rows if row.low is not None)
        question.maximum = max(row.high for row in rows if row.high is not None)
    offered = StepSpec.of(step).offered()
    if offered:
        total = sum(counts.values())
        # Shares of answers; for multiple choice, of respondents (each choice is a row).
        base = answered if step.kind == StepKind.MULTIPLE else total
        seen = set()
        for choice in offered:
            n = counts.get(choice["value"], 0)
            seen.add(choice["value"])
            question.bars.append(Bar(choice["value"], choice["label"], n, percent(n, base) or 0.0))
        for value, n in sorted(counts.items()):
            if value and value not in seen:  # a choice only an older version offered
                question.bars.append(Bar(value, value, n, percent(n, base) or 0.0))
    n = sum(counts.values())
    if step.kind == StepKind.NPS:
        promoters = counts.get("9", 0) + counts.get("10", 0)
        detractors = sum(counts.get(str(v), 0) for v in range(7))
        question.nps = nps_of(promoters, detractors, n)
    if step.kind == StepKind.RATING:
        question.csat = percent(counts.get("4", 0) + counts.get("5", 0), n)
    return question


def _answered_multiple(survey: Survey, filters: ResultFilter, step_ids: list[int]) -> dict:
    """Respondents per multiple-choice step (their rows are one per choice)."""
    if not step_ids:
        return {}
    rows = (
        Answer.objects.filter(answer_q(survey, filters), step_id__in=step_ids)
        .values("step_id")
        .annotate(n=Count("response_id", distinct=True))
        .order_by()
    )
    return {row["step_id"]: row["n"] for row in rows}


def _groups(kind: str, found: Aggregates, labels: dict) -> list[Group]:
    groups = {}
    for key, row in found.groups.get(kind, {}).items():
        label = key.isoformat() if kind == "period" else labels.get(key)
        groups[key] = Group(
            label=label or "-",
            responses=row.responses,
            completed=row.completed,
            nps_answers=row.nps_n,
            nps=nps_of(row.promoters, row.detractors, row.nps_n),
            csat_answers=row.csat_n,
            csat=percent(row.satisfied, row.csat_n),
        )
    if kind == "period":
        return [groups[key] for key in sorted(groups)]
    return sorted(groups.values(), key=lambda g: str(g.label))


def survey_results(*, survey: Survey, filters: ResultFilter | None = None) -> Results:
    """Everything the results page and its charts show, for the survey (one version with
    `filters.version_id`), computed by the database in a fixed number of queries."""
    filters = filters or ResultFilter()
    by_id, shown = _steps(survey, filters)
    number_ids = [pk for pk, step in by_id.items() if step.kind == StepKind.NUMBER]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _tune_for_aggregation()
        found = _aggregate(survey, filters, number_ids)
    rows_by_key: dict[str, list[ValueRow]] = defaultdict(list)
    for row in found.values:
        rows_by_key[by_id[row.step_id].key].append(row)
    multiple_ids = [pk for pk, step in by_id.items() if step.kind == StepKind.MULTIPLE]
    respondents = _answered_multiple(survey, filters, multiple_ids)
    questions = []
    for step in shown:
        if step.kind == StepKind.SAY:
            continue
        rows = rows_by_key.get(step.key, [])
        if step.kind == StepKind.MULTIPLE:
            answered = sum(respondents.get(pk, 0) for pk in {row.step_id for row in rows})
        else:
            answered = sum(row.n for row in rows)
        questions.append(_question(step, rows, answered))
    nps_q = next((q for q in questions if q.kind == StepKind.NPS), None)
    csat_q = next((q for q in questions if q.kind == StepKind.RATING), None)
    queue_labels = dict(Queue.objects.filter(tenant_id=survey.tenant_id).values_list("pk", "name"))
    agent_labels = {
        agent.pk: (agent.user.get_full_name() or agent.user.get_username())
        for agent in AgentProfile.objects.filter(tenant_id=survey.tenant_id).select_related("user")
    }
    return Results(
        survey=survey,
        filters=filters,
        responses=found.overall.responses,
        completed=found.overall.completed,
        ended=found.ended,
        completion_rate=percent(found.overall.completed, found.overall.responses),
        questions=questions,
        nps=nps_q.nps if nps_q else None,
        csat=csat_q.csat if csat_q else None,
        nps_key=nps_q.key if nps_q else None,
        csat_key=csat_q.key if csat_q else None,
        by_queue=_groups("queue", found, queue_labels),
        by_agent=_groups("agent", found, agent_labels),
        by_period=_groups("period", found, {}),
    )
