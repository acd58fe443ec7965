"""The rules of a survey's steps, free of the database: validation of a version's steps (at save
and publish time), validation of one answer, which step follows, and placeholder text.

Both the admin's forms and the services call `validate_steps`, so a cycle or a jump to a missing
step is refused with the same message wherever a manager saves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from surveys.models import StepKind

CHOICE_KINDS = frozenset({StepKind.SINGLE, StepKind.MULTIPLE})
# Kinds the IVR can ask with keys: one key (or a number ended by #) per answer.
IVR_KINDS = frozenset(
    {
        StepKind.SINGLE,
        StepKind.YES_NO,
        StepKind.RATING,
        StepKind.NPS,
        StepKind.NUMBER,
        StepKind.SAY,
    }
)
YES_NO = ({"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"})
RANGE = {StepKind.RATING: (1, 5), StepKind.NPS: (0, 10)}
ANY = "*"
TEXT_MAX = 2000
KEY = re.compile(r"^[-a-z0-9_]{1,40}$")
COMPARISON = re.compile(r"^(<=|>=)\s*(-?\d+(?:\.\d+)?)$")
PLACEHOLDER = re.compile(r"\{(contact|tenant|agent)\.(first_name|last_name|name)\}")


@dataclass
class StepSpec:
    """What validation needs to know of a step (a model row or an admin form's data)."""

    key: str
    kind: str
    text: str = ""
    required: bool = True
    choices: list[dict[str, str]] = field(default_factory=list)
    branches: list[dict[str, str]] = field(default_factory=list)
    min_value: Decimal | None = None
    max_value: Decimal | None = None

    @classmethod
    def of(cls, step: Any) -> StepSpec:
        return cls(
            key=step.key,
            kind=step.kind,
            text=step.text,
            required=step.required,
            choices=list(step.choices or []),
            branches=list(step.branches or []),
            min_value=step.min_value,
            max_value=step.max_value,
        )

    def offered(self) -> list[dict[str, str]]:
        """The choices a caller may pick: the step's own, yes/no, or the rating's numbers."""
        if self.kind in CHOICE_KINDS:
            return self.choices
        if self.kind == StepKind.YES_NO:
            return [dict(choice) for choice in YES_NO]
        if self.kind in RANGE:
            low, high = RANGE[self.kind]
            return [{"value": str(n), "label": str(n)} for n in range(low, high + 1)]
        return []


@dataclass(frozen=True)
class Cleaned:
    """One answer, checked and normalised for storage. `empty`: an optional step skipped."""

    choices: tuple[str, ...] = ()
    number: Decimal | None = None
    text: str = ""
    date: date | None = None
    empty: bool = False

    def display(self) -> str:
        if self.choices:
            return ", ".join(self.choices)
        if self.number is not None:
            return format_number(self.number)
        if self.date is not None:
            return self.date.isoformat()
        return self.text


def format_number(value: Decimal) -> str:
    normal = value.normalize()
    return f"{normal:f}"


# --- admin text formats ----------------------------------------------------------------------


def parse_choices(text: str) -> list[dict[str, str]]:
    """One choice per line, `value | label` or just a label (its value is the slug)."""
    choices = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if "|" in line:
            value, label = (part.strip() for part in line.split("|", 1))
        else:
            value, label = slugify(line), line
        choices.append({"value": value, "label": label or value})
    return choices


def format_choices(choices: list[dict[str, str]]) -> str:
    return "\n".join(f"{c['value']} | {c['label']}" for c in choices or [])


def parse_branches(text: str) -> list[dict[str, str]]:
    """One rule per line: `yes -> q3` (go to step q3) or `no -> end:not_interested` (end with
    outcome not_interested); `*` matches any answer, `<=6` / `>=9` compare numbers."""
    branches = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if "->" not in line:
            raise ValidationError(
                f"Branch line {number} “{line}”: write “answer -> step” or “answer -> end:outcome”."
            )
        when, target = (part.strip() for part in line.split("->", 1))
        if not when or not target:
            raise ValidationError(f"Branch line {number} “{line}” is incomplete.")
        if target.startswith("end"):
            outcome = target[3:].lstrip(":").strip()
            branches.append({"when": when, "end": outcome})
        else:
            branches.append({"when": when, "goto": target})
    return branches


def format_branches(branches: list[dict[str, str]]) -> str:
    lines = []
    for branch in branches or []:
        target = f"end:{branch['end']}" if "end" in branch else branch.get("goto", "")
        lines.append(f"{branch['when']} -> {target}")
    return "\n".join(lines)


# --- validating a version's steps ------------------------------------------------------------


def _when_valid(spec: StepSpec, when: str) -> str | None:
    """Why `when` can never match an answer to `spec`, or None when it can."""
    if when == ANY:
        return None
    if spec.kind == StepKind.SAY:
        return f"step “{spec.key}” has no answer: use “*”"
    comparison = COMPARISON.match(when)
    if comparison:
        if spec.kind not in (StepKind.RATING, StepKind.NPS, StepKind.NUMBER):
            return f"“{when}” compares numbers, but step “{spec.key}” is not a number"
        return None
    offered = spec.offered()
    if offered:
        values = [choice["value"] for choice in offered]
        if when not in values:
            return f"“{when}” is not an answer of step “{spec.key}” ({', '.join(values)})"
        return None
    if spec.kind == StepKind.NUMBER:
        try:
            Decimal(when)
        except InvalidOperation:
            return f"“{when}” is not a number"
        return None
    return f"step “{spec.key}” ({spec.kind}) can only branch on “*”"


def validate_steps(specs: list[StepSpec], *, ivr: bool = False) -> list[str]:
    """Every reason the steps cannot be saved or published, in the manager's words (empty: fine).

    Checks keys, choices, ranges, branch rules and targets, and that no branch leads back to
    a step already passed (a cycle would trap a caller forever). With `ivr`, only kinds the IVR
    can ask with keys are allowed.
    """
    errors: list[str] = []
    if not specs:
        return ["A survey needs at least one step."]
    keys = [spec.key for spec in specs]
    seen: set[str] = set()
    for key in keys:
        if not KEY.match(key or ""):
            errors.append(f"Step key “{key}”: use lower-case letters, digits, - and _ only.")
        if key in seen:
            errors.append(f"Two steps have the key “{key}”.")
        seen.add(key)
    for spec in specs:
        if spec.kind not in StepKind.values:
            errors.append(f"Step “{spec.key}”: unknown kind “{spec.kind}”.")
            continue
        if not (spec.text or "").strip():
            errors.append(f"Step “{spec.key}” has no text.")
        if spec.kind in CHOICE_KINDS:
            values = [choice.get("value", "") for choice in spec.choices]
            if len(values) < 2:
                errors.append(f"Step “{spec.key}” needs at least two choices.")
            if len(set(values)) != len(values) or "" in values:
                errors.append(f"Step “{spec.key}”: choice values must be distinct and non-empty.")
            if ivr and spec.kind == StepKind.SINGLE and len(values) > 9:
                errors.append(f"Step “{spec.key}”: the IVR offers at most nine choices (keys 1-9).")
        if (
            spec.min_value is not None
            and spec.max_value is not None
            and spec.min_value > spec.max_value
        ):
            errors.append(f"Step “{spec.key}”: the minimum is above the maximum.")
        if ivr and spec.kind not in IVR_KINDS:
            errors.append(
                f"Step “{spec.key}”: a {StepKind(spec.kind).label.lower()} step cannot be "
                "answered with phone keys."
            )
        for branch in spec.branches:
            when = str(branch.get("when", ""))
            reason = _when_valid(spec, when)
            if reason:
                errors.append(f"Step “{spec.key}”: branch {reason}.")
            if "end" in branch:
                outcome = branch["end"]
                if outcome and not KEY.match(outcome):
                    errors.append(
                        f"Step “{spec.key}”: outcome “{outcome}” — use lower-case letters, "
                        "digits, - and _ only."
                    )
            elif branch.get("goto") not in seen:
                errors.append(
                    f"Step “{spec.key}” jumps to “{branch.get('goto')}”, which does not exist."
                )
    if not errors:
        errors.extend(_cycles(specs))
    return errors


def _cycles(specs: list[StepSpec]) -> list[str]:
    edges: dict[str, list[str]] = {}
    for index, spec in enumerate(specs):
        targets = [b["goto"] for b in spec.branches if "goto" in b]
        catches_all = any(b.get("when") == ANY for b in spec.branches)
        if not catches_all and index + 1 < len(specs):
            targets.append(specs[index + 1].key)
        edges[spec.key] = targets
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(key: str) -> list[str] | None:
        state[key] = 1
        stack.append(key)
        for target in edges.get(key, []):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[key] = 2
        return None

    for spec in specs:
        if spec.key not in state:
            cycle = visit(spec.key)
            if cycle:
                return [f"Steps {' → '.join(cycle)} form a cycle: a branch may only jump ahead."]
    return []


# --- answering -------------------------------------------------------------------------------


def clean_answer(spec: StepSpec, raw: Any) -> Cleaned:
    """Check `raw` (form text, a list for multiple choice, a number from JSON) against the
    step. Raises ValidationError with the reason: a rating out of range, a choice not offered,
    a missing required answer, a malformed number or date."""
    if spec.kind == StepKind.SAY:
        return Cleaned(empty=True)
    values = raw if isinstance(raw, list | tuple) else ([] if raw is None else [raw])
    values = [str(value).strip() for value in values if str(value).strip() != ""]
    if not values:
        if spec.required:
            raise ValidationError("An answer is required.")
        return Cleaned(empty=True)
    if spec.kind != StepKind.MULTIPLE and len(values) > 1:
        raise ValidationError("Give one answer only.")
    if spec.kind in (StepKind.SINGLE, StepKind.MULTIPLE, StepKind.YES_NO):
        offered = [choice["value"] for choice in spec.offered()]
        for value in values:
            if value not in offered:
                raise ValidationError(f"“{value}” is not one of the choices offered.")
        # Stored in the order offered, once each.
        return Cleaned(choices=tuple(v for v in offered if v in values))
    value = values[0]
    if spec.kind in RANGE:
        low, high = RANGE[spec.kind]
        if not re.fullmatch(r"-?\d+", value):
            raise ValidationError(f"Answer with a whole number from {low} to {high}.")
        number = int(value)
        if not low <= number <= high:
            raise ValidationError(f"{number} is out of range: answer from {low} to {high}.")
        return Cleaned(choices=(str(number),), number=Decimal(number))
    if spec.kind == StepKind.NUMBER:
        try:
            number = Decimal(value.replace(",", "."))
        except InvalidOperation:
            raise ValidationError(f"“{value}” is not a number.") from None
        if not number.is_finite() or abs(number) >= Decimal(10) ** 10:
            raise ValidationError(f"“{value}” is not a usable number.")
        if spec.min_value is not None and number < spec.min_value:
            raise ValidationError(f"{value} is below the minimum {format_number(spec.min_value)}.")
        if spec.max_value is not None and number > spec.max_value:
            raise ValidationError(f"{value} is above the maximum {format_number(spec.max_value)}.")
        return Cleaned(number=number)
    if spec.kind == StepKind.DATE:
        try:
            return Cleaned(date=date.fromisoformat(value))
        except ValueError:
            raise ValidationError(f"“{value}” is not a date (YYYY-MM-DD).") from None
    if len(value) > TEXT_MAX:
        raise ValidationError(f"The answer is longer than {TEXT_MAX} characters.")
    return Cleaned(text=value)


def _matches(when: str, answer: Cleaned) -> bool:
    if when == ANY:
        return True
    if answer.empty:
        return False
    comparison = COMPARISON.match(when)
    if comparison:
        if answer.number is None:
            return False
        limit = Decimal(comparison.group(2))
        return answer.number <= limit if comparison.group(1) == "<=" else answer.number >= limit
    if answer.choices:
        return when in answer.choices
    if answer.number is not None:
        try:
            return answer.number == Decimal(when)
        except InvalidOperation:
            return False
    return False


@dataclass(frozen=True)
class Next:
    """Where a run goes after a step: `step_key`, or the end (`step_key` None) with `outcome`."""

    step_key: str | None
    outcome: str = ""


def next_after(specs: list[StepSpec], key: str, answer: Cleaned) -> Next:
    """The step that follows `key` given `answer`: the first matching branch, else the next
    step by position, else the end without an outcome."""
    index = next(i for i, spec in enumerate(specs) if spec.key == key)
    for branch in specs[index].branches:
        if _matches(str(branch.get("when", "")), answer):
            if "end" in branch:
                return Next(None, branch["end"] or "")
            return Next(branch["goto"])
    if index + 1 < len(specs):
        return Next(specs[index + 1].key)
    return Next(None, "")


def render_text(text: str, values: dict[str, str]) -> str:
    """Fill {contact.first_name}, {tenant.name}, {agent.first_name} (and last_name); unknown
    placeholders are left as written, so a typo shows rather than vanishes."""

    def replace(match: re.Match) -> str:
        name = f"{match.group(1)}.{match.group(2)}"
        return values.get(name, match.group(0))

    return PLACEHOLDER.sub(replace, text or "")
