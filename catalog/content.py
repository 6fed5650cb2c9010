"""What a servlet version says, as one value: checked the same way whether it comes from the
authoring form, an import file or a duplicate, and compared field by field for the history."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from babel.numbers import is_currency

from catalog.models import (
    BillingPolicy,
    DeliveryMode,
    LifecycleStage,
    QuestionType,
    ServletKind,
    ServletVersion,
)
from core.money import Money, minor_digits

MAX_PRICE_UNITS = 10_000_000  # a servlet is a small fixed-price service, not a programme
MAX_DAYS = 250  # about a working year
MAX_EFFORT_HOURS = 10_000
MAX_ITEMS = 30
MAX_ITEM_LENGTH = 300
MAX_QUESTIONS = 20
MAX_CHOICES = 20


# The content fields that are lists of one-line strings.
LIST_FIELDS = ("prerequisites", "in_scope", "out_of_scope", "constraints", "required_skills")


@dataclass
class ServletContent:
    title: str
    kind: ServletKind
    stage: LifecycleStage
    outcome: str
    delivery_mode: DeliveryMode
    duration_days: int
    effort_hours: int
    price: Money
    billing_policy: BillingPolicy
    start_within_days: int
    deliver_within_days: int
    csat_target: Decimal
    delivery_cost: Money | None = None
    summary: str = ""
    description: str = ""
    prerequisites: list[str] = field(default_factory=list)
    in_scope: list[str] = field(default_factory=list)
    out_of_scope: list[str] = field(default_factory=list)
    deliverables: list[dict[str, str]] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    required_skills: list[str] = field(default_factory=list)
    intake_questions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, version: ServletVersion) -> ServletContent:
        return cls(
            title=version.title,
            kind=version.kind,
            stage=version.stage,
            outcome=version.outcome,
            delivery_mode=version.delivery_mode,
            duration_days=version.duration_days,
            effort_hours=version.effort_hours,
            price=version.price,
            billing_policy=version.billing_policy,
            start_within_days=version.start_within_days,
            deliver_within_days=version.deliver_within_days,
            csat_target=Decimal(version.csat_target),
            delivery_cost=version.delivery_cost,
            summary=version.summary,
            description=version.description,
            prerequisites=list(version.prerequisites),
            in_scope=list(version.in_scope),
            out_of_scope=list(version.out_of_scope),
            deliverables=[dict(d) for d in version.deliverables],
            constraints=list(version.constraints),
            required_skills=list(version.required_skills),
            intake_questions=[dict(q) for q in version.intake_questions],
        )

    def copy(self, **changes: Any) -> ServletContent:
        return replace(self, **changes)

    def column_values(self) -> dict[str, Any]:
        """The ``ServletVersion`` columns this content sets."""
        cost = self.delivery_cost or Money.zero(self.price.currency)
        return {
            "title": self.title,
            "kind": self.kind,
            "stage": self.stage,
            "outcome": self.outcome,
            "summary": self.summary,
            "description": self.description,
            "prerequisites": self.prerequisites,
            "in_scope": self.in_scope,
            "out_of_scope": self.out_of_scope,
            "deliverables": self.deliverables,
            "constraints": self.constraints,
            "delivery_mode": self.delivery_mode,
            "duration_days": self.duration_days,
            "effort_hours": self.effort_hours,
            "required_skills": self.required_skills,
            "price_minor": self.price.amount,
            "currency": self.price.currency,
            "delivery_cost_minor": cost.amount,
            "billing_policy": self.billing_policy,
            "start_within_days": self.start_within_days,
            "deliver_within_days": self.deliver_within_days,
            "csat_target": self.csat_target,
            "intake_questions": self.intake_questions,
            "search_text": self.search_text(),
        }

    def plain_values(self) -> dict[str, Any]:
        """The content as text, numbers, lists and enum values, keyed by the names the
        authoring form and the import/export files share; each shapes its lists its own way."""
        cost = self.delivery_cost or Money.zero(self.price.currency)
        return {
            "title": self.title,
            "kind": self.kind.value,
            "stage": self.stage.value,
            "outcome": self.outcome,
            "summary": self.summary,
            "description": self.description,
            **{name: getattr(self, name) for name in LIST_FIELDS},
            "deliverables": self.deliverables,
            "delivery_mode": self.delivery_mode.value,
            "duration_days": self.duration_days,
            "effort_hours": self.effort_hours,
            "price": str(self.price.to_decimal()),
            "currency": self.price.currency,
            "delivery_cost": str(cost.to_decimal()),
            "billing_policy": self.billing_policy.value,
            "start_within_days": self.start_within_days,
            "deliver_within_days": self.deliver_within_days,
            "csat_target": self.csat_target,
            "intake_questions": self.intake_questions,
        }

    def search_text(self) -> str:
        """Outcome, summary, description and deliverables as one plain-text document."""
        parts = [self.outcome, self.summary, _markdown_words(self.description)]
        for deliverable in self.deliverables:
            parts += [deliverable.get("title", ""), deliverable.get("description", "")]
        return "\n".join(part for part in parts if part)


def _markdown_words(text: str) -> str:
    return re.sub(r"[#*_`>\[\]()!|~-]+", " ", text)


def problems(content: ServletContent) -> list[str]:
    """Every reason ``content`` cannot be saved, as messages a vendor can act on."""
    errors: list[str] = []

    def need(ok: bool, message: str) -> None:
        if not ok:
            errors.append(message)

    need(bool(content.title.strip()), "Title: enter a title.")
    need(len(content.title) <= 120, "Title: at most 120 characters.")
    need(bool(content.outcome.strip()), "Outcome: say what the customer gets.")
    need(len(content.outcome) <= 400, "Outcome: at most 400 characters.")
    need(len(content.summary) <= 1000, "Summary: at most 1,000 characters.")
    need(len(content.description) <= 20_000, "Description: at most 20,000 characters.")
    need(1 <= content.duration_days <= MAX_DAYS, f"Duration: 1 to {MAX_DAYS} business days.")
    need(
        1 <= content.effort_hours <= MAX_EFFORT_HOURS,
        f"Effort: 1 to {MAX_EFFORT_HOURS:,} hours.",
    )
    need(
        0 <= content.start_within_days <= MAX_DAYS,
        f"Starts within: 0 to {MAX_DAYS} business days.",
    )
    need(
        1 <= content.deliver_within_days <= MAX_DAYS,
        f"Delivered within: 1 to {MAX_DAYS} business days.",
    )
    need(
        Decimal(1) <= content.csat_target <= Decimal(5)
        and content.csat_target == content.csat_target.quantize(Decimal("0.1")),
        "CSAT target: between 1.0 and 5.0, one decimal.",
    )
    errors += _money_problems("Price", content.price)
    if content.delivery_cost is not None:
        errors += _money_problems("Delivery cost", content.delivery_cost)
        if content.delivery_cost.currency != content.price.currency:
            errors.append("Delivery cost: use the same currency as the price.")
    for label, items in (
        ("Prerequisites", content.prerequisites),
        ("In scope", content.in_scope),
        ("Out of scope", content.out_of_scope),
        ("Constraints and assumptions", content.constraints),
        ("Required skills", content.required_skills),
    ):
        errors += _list_problems(label, items)
    need(bool(content.deliverables), "Deliverables: list at least one deliverable.")
    need(len(content.deliverables) <= MAX_ITEMS, f"Deliverables: at most {MAX_ITEMS}.")
    for number, deliverable in enumerate(content.deliverables, 1):
        title = deliverable.get("title", "")
        need(bool(title.strip()), f"Deliverable {number}: enter a title.")
        need(len(title) <= 200, f"Deliverable {number}: title at most 200 characters.")
        need(
            len(deliverable.get("description", "")) <= 1000,
            f"Deliverable {number}: description at most 1,000 characters.",
        )
    need(
        len(content.intake_questions) <= MAX_QUESTIONS,
        f"Intake questions: at most {MAX_QUESTIONS}.",
    )
    for number, question in enumerate(content.intake_questions, 1):
        errors += _question_problems(number, question)
    return errors


def _money_problems(label: str, money: Money) -> list[str]:
    if not is_currency(money.currency):
        return [f"{label}: {money.currency!r} is not a currency code."]
    if money.amount < 0:
        return [f"{label}: cannot be negative."]
    if money.amount > MAX_PRICE_UNITS * 10 ** minor_digits(money.currency):
        return [f"{label}: at most {MAX_PRICE_UNITS:,} {money.currency}."]
    return []


def _list_problems(label: str, items: list[str]) -> list[str]:
    errors = []
    if len(items) > MAX_ITEMS:
        errors.append(f"{label}: at most {MAX_ITEMS} lines.")
    if any(len(item) > MAX_ITEM_LENGTH for item in items):
        errors.append(f"{label}: each line at most {MAX_ITEM_LENGTH} characters.")
    return errors


def _question_problems(number: int, question: dict[str, Any]) -> list[str]:
    errors = []
    label = str(question.get("label", ""))
    if not label.strip():
        errors.append(f"Intake question {number}: enter the question.")
    if len(label) > 200:
        errors.append(f"Intake question {number}: at most 200 characters.")
    if question.get("type") not in {t.value for t in QuestionType}:
        errors.append(f"Intake question {number}: choose a type.")
    choices = question.get("choices") or []
    if question.get("type") == QuestionType.CHOICE.value and len(choices) < 2:
        errors.append(f"Intake question {number}: a choice question needs at least two choices.")
    if len(choices) > MAX_CHOICES or any(len(str(c)) > 100 for c in choices):
        errors.append(f"Intake question {number}: at most {MAX_CHOICES} choices of 100 characters.")
    return errors


def clean_lines(text: str) -> list[str]:
    """One list item per non-empty line, trimmed; leading bullets are dropped."""
    return [line.strip().lstrip("-*•").strip() for line in text.splitlines() if line.strip()]


# --- history ---------------------------------------------------------------------------------

FIELD_LABELS = {
    "title": "Title",
    "kind": "Kind",
    "stage": "Life-cycle stage",
    "outcome": "Outcome",
    "summary": "Summary",
    "description": "Description",
    "prerequisites": "Prerequisites",
    "in_scope": "In scope",
    "out_of_scope": "Out of scope",
    "deliverables": "Deliverables",
    "constraints": "Constraints and assumptions",
    "delivery_mode": "Delivery mode",
    "duration_days": "Duration (business days)",
    "effort_hours": "Effort (hours)",
    "required_skills": "Required skills",
    "price": "List price",
    "delivery_cost": "Estimated delivery cost",
    "billing_policy": "Billing policy",
    "start_within_days": "Starts within (business days)",
    "deliver_within_days": "Delivered within (business days)",
    "csat_target": "CSAT target",
    "intake_questions": "Intake questions",
}


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str
    lines: list[str]  # a unified diff for text and lists; empty for single values


def diff_contents(old: ServletContent, new: ServletContent) -> list[FieldChange]:
    """What changed from ``old`` to ``new``, in form order."""
    changes = []
    for item in fields(ServletContent):
        before, after = getattr(old, item.name), getattr(new, item.name)
        if before == after:
            continue
        old_lines, new_lines = _as_lines(before), _as_lines(after)
        if len(old_lines) > 1 or len(new_lines) > 1 or isinstance(before, list):
            lines = list(difflib.unified_diff(old_lines, new_lines, lineterm="", n=1))[2:]
            changes.append(FieldChange(FIELD_LABELS[item.name], "", "", lines))
        else:
            changes.append(FieldChange(FIELD_LABELS[item.name], _shown(before), _shown(after), []))
    return changes


def _as_lines(value: Any) -> list[str]:
    if isinstance(value, list):
        return [_item_line(item) for item in value]
    return str(_shown(value)).splitlines()


def _item_line(item: Any) -> str:
    if isinstance(item, dict) and "type" in item:
        required = "required" if item.get("required") else "optional"
        choices = f" ({'; '.join(item.get('choices') or [])})" if item.get("choices") else ""
        return f"{item.get('label')} — {item.get('type')}, {required}{choices}"
    if isinstance(item, dict):
        description = item.get("description")
        return f"{item.get('title')}" + (f" — {description}" if description else "")
    return str(item)


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Money):
        return value.format()
    label = getattr(value, "label", None)
    return str(label if label is not None else value)
