"""Success plans: per customer and quarter, a summary and up to twelve goals, each a measure
going from a baseline to a target, linked to the vendor's servlets that serve it.

The owning CSM and the vendor's admins change them (``success.policies.edits_account``);
every CSM who sees the account and the customer's own people read them. Each function
checks who acts, validates with a message the person can act on, writes its audit event
and commits: one transaction, one way in for pages, seeds and, later, the API.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from accounts.models import Organization
from catalog.models import Servlet, ServletVersion, VersionState
from core import audit
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, OrgKind
from success import policies
from success.plan_models import SuccessGoal, SuccessPlan

MAX_GOALS = 12
MAX_SERVLETS_PER_GOAL = 10
MAX_SUMMARY = 4_000
MAX_TITLE = 200
MAX_MEASURE = 200
MAX_UNIT = 20
# Goals count users, hours, money, percentages: nothing real comes near a trillion, and a
# float holds every whole number below it exactly.
MAX_MAGNITUDE = 1e12
QUARTERS_BACK = 8  # plans of the last two years may still be written up
QUARTERS_AHEAD = 4  # and the coming year's planned
REFUSED = "Only the account's owning CSM or an admin changes its success plans."
_QUARTER = re.compile(r"([0-9]{4})-Q([1-4])")


# --- quarters ----------------------------------------------------------------------------


def quarter_start(day: date) -> date:
    """The first day of ``day``'s quarter."""
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def shift_quarters(start: date, quarters: int) -> date:
    months = start.year * 12 + start.month - 1 + 3 * quarters
    return date(months // 12, months % 12 + 1, 1)


def quarter_end(start: date) -> date:
    return shift_quarters(start, 1) - timedelta(days=1)


def quarter_label(start: date) -> str:
    return f"Q{(start.month - 1) // 3 + 1} {start.year}"


def quarter_key(start: date) -> str:
    """The quarter as the address carries it: ``2026-Q2``."""
    return f"{start.year}-Q{(start.month - 1) // 3 + 1}"


def parse_quarter(text: str | None) -> date | None:
    """``2026-Q2`` → 2026-04-01; ``None`` for anything else."""
    match = _QUARTER.fullmatch((text or "").strip())
    if match is None or not 1900 <= int(match[1]) <= 2200:
        return None
    return date(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1)


def plannable_quarters(today: date) -> list[date]:
    """The quarters a plan may be written for, newest first."""
    this = quarter_start(today)
    return [shift_quarters(this, n) for n in range(QUARTERS_AHEAD, -QUARTERS_BACK - 1, -1)]


# --- progress ----------------------------------------------------------------------------


def goal_progress(goal: SuccessGoal) -> float:
    """How far ``current`` has come from ``baseline`` to ``target``, from 0 to 1 (a goal
    may aim down: fewer tickets)."""
    span = goal.target - goal.baseline
    if span == 0:  # refused on save; a row written another way reads as not started
        return 0.0
    return min(1.0, max(0.0, (goal.current - goal.baseline) / span))


def plan_progress(goals: Sequence[SuccessGoal]) -> float | None:
    """The mean of the goals' progress; ``None`` for a plan with no goal."""
    if not goals:
        return None
    return sum(goal_progress(goal) for goal in goals) / len(goals)


def plain_number(value: float) -> str:
    """``1200.0`` → ``1,200``; ``4.25`` → ``4.25`` (at most the four decimals a form takes)."""
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def percent(fraction: float | None) -> int | None:
    """A fraction as the whole percentage the pages and the PDF print."""
    return None if fraction is None else round(fraction * 100)


# --- reading -----------------------------------------------------------------------------


def plan_of(customer_id: int, start: date, with_servlets: bool = True) -> SuccessPlan | None:
    """The customer's plan of the quarter starting on ``start``, with its goals (and their
    servlets)."""
    goals = selectinload(SuccessPlan.goals)
    return db.session.scalar(
        select(SuccessPlan)
        .where(SuccessPlan.customer_id == customer_id, SuccessPlan.quarter_start == start)
        .options(goals.selectinload(SuccessGoal.servlets) if with_servlets else goals)
    )


def plans_between(customer_id: int, first: date, last: date) -> list[SuccessPlan]:
    """The customer's plans of the quarters starting from ``first`` to ``last``, oldest
    first, with their goals and the goals' servlets."""
    return list(
        db.session.scalars(
            select(SuccessPlan)
            .where(
                SuccessPlan.customer_id == customer_id,
                SuccessPlan.quarter_start >= first,
                SuccessPlan.quarter_start <= last,
            )
            .options(selectinload(SuccessPlan.goals).selectinload(SuccessGoal.servlets))
            .order_by(SuccessPlan.quarter_start)
        )
    )


def plan_quarters(customer_id: int) -> list[date]:
    """The quarters the customer has a plan for, newest first."""
    return list(
        db.session.scalars(
            select(SuccessPlan.quarter_start)
            .where(SuccessPlan.customer_id == customer_id)
            .order_by(SuccessPlan.quarter_start.desc())
        )
    )


def servlet_titles(servlet_ids: Iterable[int]) -> dict[int, str]:
    """Each servlet's title: its published version's, else its newest version's."""
    ids = set(servlet_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(ServletVersion.servlet_id, ServletVersion.title, ServletVersion.state)
        .where(ServletVersion.servlet_id.in_(ids))
        .order_by(ServletVersion.servlet_id, ServletVersion.number)
    )
    titles: dict[int, str] = {}
    published: set[int] = set()
    for servlet_id, title, state in rows:
        if servlet_id in published:
            continue
        titles[servlet_id] = title
        if state is VersionState.PUBLISHED:
            published.add(servlet_id)
    return titles


# --- changes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalValues:
    """A goal as typed; numbers as floats (the form parses bounded decimals)."""

    title: str
    measure: str
    unit: str
    baseline: float | None
    target: float | None
    current: float | None
    servlet_ids: Sequence[int] = field(default_factory=tuple)


def _refuse_unless_editor(actor: Actor | None, customer: Organization) -> None:
    if customer.kind is not OrgKind.CUSTOMER:
        raise ServiceError("Success plans are kept for customers only.")
    if not policies.edits_account(actor, customer):
        raise NotAllowed(REFUSED)


def _text(value: str, what: str, limit: int, required: bool) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise ServiceError(f"{what}: required.")
    if len(text) > limit:
        raise ServiceError(f"{what}: at most {limit} characters.")
    return text


def _number(value: float | None, what: str, default: float | None = None) -> float:
    if value is None:
        if default is None:
            raise ServiceError(f"{what}: required.")
        return default
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise ServiceError(f"{what}: a number such as 120 or 4.5.") from error
    if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
        raise ServiceError(
            f"{what}: a number between -{MAX_MAGNITUDE:,.0f} and {MAX_MAGNITUDE:,.0f}."
        )
    return number


def _servlets(vendor_id: int, servlet_ids: Sequence[int]) -> list[Servlet]:
    ids = set(servlet_ids)
    if len(ids) > MAX_SERVLETS_PER_GOAL:
        raise ServiceError(f"Servlets: at most {MAX_SERVLETS_PER_GOAL} per goal.")
    if not ids:
        return []
    found = list(
        db.session.scalars(
            select(Servlet).where(Servlet.id.in_(ids), Servlet.vendor_id == vendor_id)
        )
    )
    if len(found) != len(ids):
        raise ServiceError("Servlets: choose from your own servlets.")
    return sorted(found, key=lambda servlet: servlet.id)


def _goal_fields(vendor_id: int, values: GoalValues) -> dict[str, object]:
    baseline = _number(values.baseline, "Baseline", default=0.0)
    target = _number(values.target, "Target")
    if target == baseline:
        raise ServiceError("Target: must differ from the baseline, or there is nothing to reach.")
    return {
        "title": _text(values.title, "Title", MAX_TITLE, required=True),
        "measure": _text(values.measure, "Measure", MAX_MEASURE, required=True),
        "unit": _text(values.unit, "Unit", MAX_UNIT, required=False),
        "baseline": baseline,
        "target": target,
        "current": _number(values.current, "Current", default=baseline),
        "servlets": _servlets(vendor_id, values.servlet_ids),
    }


def _quarter(start: date, today: date) -> date:
    if start != quarter_start(start):
        raise ServiceError("Quarter: a plan starts on the first day of a quarter.")
    if start not in plannable_quarters(today):
        raise ServiceError(
            f"Quarter: from {quarter_label(shift_quarters(quarter_start(today), -QUARTERS_BACK))}"
            f" to {quarter_label(shift_quarters(quarter_start(today), QUARTERS_AHEAD))}."
        )
    return start


def start_plan(
    actor: Actor | None, customer: Organization, start: date, summary: str = ""
) -> SuccessPlan:
    """The customer's plan of the quarter starting on ``start``, made when it has none (a
    second request, or two at once, find the first's)."""
    _refuse_unless_editor(actor, customer)
    start = _quarter(start, utcnow().date())
    summary = (summary or "").strip()
    if len(summary) > MAX_SUMMARY:
        raise ServiceError(f"Summary: at most {MAX_SUMMARY:,} characters.")
    existing = plan_of(customer.id, start)
    if existing is not None:
        db.session.commit()
        return existing
    plan = SuccessPlan(
        vendor_id=customer.tenant_id, customer_id=customer.id, quarter_start=start, summary=summary
    )
    db.session.add(plan)
    try:
        db.session.flush()
    except IntegrityError:  # made by a request that ran at the same time
        db.session.rollback()
        return plan_of(customer.id, start)  # type: ignore[return-value]
    audit.record("success.plan_created", plan, changes={"quarter": quarter_key(start)})
    db.session.commit()
    return plan


def update_summary(actor: Actor | None, plan: SuccessPlan, summary: str) -> SuccessPlan:
    _refuse_unless_editor(actor, db.session.get(Organization, plan.customer_id))
    summary = (summary or "").strip()
    if len(summary) > MAX_SUMMARY:
        raise ServiceError(f"Summary: at most {MAX_SUMMARY:,} characters.")
    changes = audit.diff(plan, {"summary": summary})
    if changes:
        plan.updated_at = utcnow()
        audit.record("success.plan_updated", plan, changes=changes)
    db.session.commit()
    return plan


def _goal_changes(goal: SuccessGoal, fields: dict[str, object]) -> dict[str, list[object]]:
    servlets = fields.pop("servlets")
    changes = audit.diff(goal, fields)
    before = sorted(servlet.id for servlet in goal.servlets)
    after = [servlet.id for servlet in servlets]  # type: ignore[attr-defined]
    if before != after:
        goal.servlets = list(servlets)  # type: ignore[call-overload]
        changes["servlet_ids"] = [before, after]
    return changes


def _same_goal(goal: SuccessGoal, fields: dict[str, object]) -> bool:
    return all(
        getattr(goal, name) == value for name, value in fields.items() if name != "servlets"
    ) and [servlet.id for servlet in goal.servlets] == [
        servlet.id for servlet in fields["servlets"]
    ]  # type: ignore[attr-defined]


def add_goal(actor: Actor | None, plan: SuccessPlan, values: GoalValues) -> SuccessGoal:
    """A goal at the end of the plan; at most ``MAX_GOALS``."""
    _refuse_unless_editor(actor, db.session.get(Organization, plan.customer_id))
    fields = _goal_fields(plan.vendor_id, values)
    goals = db.session.scalars(
        select(SuccessGoal)
        .where(SuccessGoal.plan_id == plan.id)
        .options(selectinload(SuccessGoal.servlets))
    ).all()
    same_title = next((g for g in goals if g.title.lower() == str(fields["title"]).lower()), None)
    if same_title is not None:
        if _same_goal(same_title, fields):  # the form sent twice: one goal
            db.session.commit()
            return same_title
        raise ServiceError(f"Title: the plan has a goal “{same_title.title}” already; edit it.")
    if len(goals) >= MAX_GOALS:
        raise ServiceError(f"A plan holds at most {MAX_GOALS} goals: remove one first.")
    position = max((g.position for g in goals), default=0) + 1
    goal = SuccessGoal(vendor_id=plan.vendor_id, plan_id=plan.id, position=position, servlets=[])
    changes = _goal_changes(goal, fields)
    db.session.add(goal)
    db.session.flush()
    plan.updated_at = goal.updated_at = utcnow()
    audit.record("success.goal_added", goal, changes={**changes, "plan_id": plan.id})
    db.session.commit()
    return goal


def update_goal(actor: Actor | None, goal: SuccessGoal, values: GoalValues) -> SuccessGoal:
    plan = db.session.get(SuccessPlan, goal.plan_id)
    _refuse_unless_editor(actor, db.session.get(Organization, plan.customer_id))
    changes = _goal_changes(goal, _goal_fields(plan.vendor_id, values))
    if changes:
        plan.updated_at = goal.updated_at = utcnow()
        audit.record("success.goal_updated", goal, changes=changes)
    db.session.commit()
    return goal


def delete_goal(actor: Actor | None, goal: SuccessGoal) -> None:
    plan = db.session.get(SuccessPlan, goal.plan_id)
    _refuse_unless_editor(actor, db.session.get(Organization, plan.customer_id))
    audit.record(
        "success.goal_deleted",
        goal,
        changes={"title": goal.title, "target": goal.target, "plan_id": plan.id},
    )
    goal.servlets = []
    db.session.delete(goal)
    plan.updated_at = utcnow()
    db.session.commit()
