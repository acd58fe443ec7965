"""The rules of steps: what a manager may save, what an answer may be, where a branch goes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from surveys.flow import (
    Cleaned,
    StepSpec,
    clean_answer,
    next_after,
    parse_branches,
    parse_choices,
    render_text,
    validate_steps,
)
from tests.surveys.support import SCRIPT_STEPS


def specs(rows: list[dict]) -> list[StepSpec]:
    return [StepSpec(**row) for row in rows]


def test_the_example_script_is_valid():
    assert validate_steps(specs(SCRIPT_STEPS)) == []


def test_a_backward_jump_is_refused_as_a_cycle():
    rows = [
        {"key": "q1", "kind": "yes_no", "text": "A?"},
        {"key": "q2", "kind": "yes_no", "text": "B?", "branches": [{"when": "no", "goto": "q1"}]},
    ]
    assert validate_steps(specs(rows)) == [
        "Steps q1 → q2 → q1 form a cycle: a branch may only jump ahead."
    ]


def test_a_jump_to_a_missing_step_and_an_impossible_answer_are_named():
    rows = [
        {
            "key": "q1",
            "kind": "rating",
            "text": "How was it?",
            "branches": [{"when": "7", "goto": "q2"}, {"when": "<=2", "goto": "q9"}],
        },
        {"key": "q2", "kind": "text", "text": "Why?"},
    ]
    errors = validate_steps(specs(rows))
    assert "Step “q1”: branch “7” is not an answer of step “q1” (1, 2, 3, 4, 5)." in errors
    assert "Step “q1” jumps to “q9”, which does not exist." in errors


def test_choice_steps_need_distinct_choices_and_ivr_needs_key_answers():
    rows = [
        {
            "key": "pick",
            "kind": "single",
            "text": "Pick",
            "choices": [{"value": "a", "label": "A"}],
        },
        {"key": "why", "kind": "text", "text": "Why?"},
        {"key": "why", "kind": "say", "text": "Thanks"},
    ]
    errors = validate_steps(specs(rows), ivr=True)
    assert "Step “pick” needs at least two choices." in errors
    assert "Step “why”: a free text step cannot be answered with phone keys." in errors
    assert "Two steps have the key “why”." in errors
    assert validate_steps([]) == ["A survey needs at least one step."]


@pytest.mark.parametrize(
    ("kind", "raw", "reason"),
    [
        ("rating", "6", "6 is out of range: answer from 1 to 5."),
        ("nps", "11", "11 is out of range: answer from 0 to 10."),
        ("rating", "good", "Answer with a whole number from 1 to 5."),
        ("yes_no", "maybe", "“maybe” is not one of the choices offered."),
        ("date", "31.12.2026", "“31.12.2026” is not a date (YYYY-MM-DD)."),
        ("number", "lots", "“lots” is not a number."),
        ("number", "200001", "200001 is above the maximum 100000."),
        ("text", "", "An answer is required."),
    ],
)
def test_bad_answers_are_refused_with_the_reason(kind, raw, reason):
    spec = StepSpec(key="q", kind=kind, text="?", max_value=Decimal(100000))
    with pytest.raises(ValidationError) as caught:
        clean_answer(spec, raw)
    assert caught.value.messages == [reason]


def test_answers_are_normalised_for_storage():
    multiple = StepSpec(
        key="m",
        kind="multiple",
        text="?",
        choices=[{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
    )
    assert clean_answer(multiple, ["b", "a"]).choices == ("a", "b")
    assert clean_answer(StepSpec(key="r", kind="nps", text="?"), "9") == Cleaned(
        choices=("9",), number=Decimal(9)
    )
    assert clean_answer(StepSpec(key="d", kind="date", text="?"), "2026-12-01").date == date(
        2026, 12, 1
    )
    assert clean_answer(StepSpec(key="o", kind="text", text="?", required=False), "").empty


def test_branches_follow_the_answer_else_the_next_step():
    steps = specs(SCRIPT_STEPS)
    no = clean_answer(steps[1], "no")
    yes = clean_answer(steps[1], "yes")
    assert next_after(steps, "interested", no).outcome == "not_interested"
    assert next_after(steps, "interested", no).step_key is None
    assert next_after(steps, "interested", yes).step_key == "product"
    assert next_after(steps, "product", clean_answer(steps[2], "variable")).step_key == "callback"
    assert next_after(steps, "product", clean_answer(steps[2], "fixed")).step_key == "kwh"
    low = StepSpec(key="n", kind="nps", text="?", branches=[{"when": "<=6", "goto": "why"}])
    why = StepSpec(key="why", kind="text", text="?")
    assert next_after([low, why], "n", clean_answer(low, "3")).step_key == "why"
    assert next_after([low, why], "n", clean_answer(low, "9")).step_key == "why"  # next anyway
    assert next_after([low, why], "why", clean_answer(why, "x")) == next_after(
        [low, why], "why", clean_answer(why, "y")
    )


def test_admin_text_formats():
    assert parse_choices("fixed | Fast pris\nVariabel pris\n") == [
        {"value": "fixed", "label": "Fast pris"},
        {"value": "variabel-pris", "label": "Variabel pris"},
    ]
    assert parse_branches("no -> end:not_interested\nyes -> product") == [
        {"when": "no", "end": "not_interested"},
        {"when": "yes", "goto": "product"},
    ]
    with pytest.raises(ValidationError):
        parse_branches("no product")


def test_placeholders_are_filled_and_unknown_ones_left_visible():
    text = "Hej {contact.first_name}, {agent.first_name} fra {tenant.name}. {contact.email}"
    values = {"contact.first_name": "Søren", "agent.first_name": "Ida", "tenant.name": "Nordlys"}
    assert render_text(text, values) == "Hej Søren, Ida fra Nordlys. {contact.email}"
