"""Account health: each customer's 0-100 score from weighted components, its band, and the
history of its changes with their explanations. What each component measures is in
``success.health_components``.

The score is the weighted mean of the components that have data: a component without data
is left out and the others' weights are rescaled to 100 (the page says so); no data at all
gives no score. Weights and band limits are the vendor's, per segment (``HealthModel``,
``''`` = every segment without its own), with ``DEFAULT_WEIGHTS`` and bands 40/70 where the
vendor set none.

``recompute`` reads every component set-based for the vendor's customers (or a few), then
writes scores and history rows in bulk: a history row on a day the score changed (a second
change the same day rewrites that day's row), its ``changes`` being each component's
contribution change in words, largest first. It runs nightly (a job enqueued once per vendor
and day) and on the events that move a score (the receivers at the end of this module).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from accounts.models import Organization
from core import audit
from core.db import utcnow
from core.errors import NotAllowed, ServiceError
from core.extensions import db
from core.permissions import Actor, OrgKind, Role
from core.queue import enqueue, performs
from core.scheduler import every
from delivery.models import ENGAGEMENT_LIFE, Engagement, EngagementState
from delivery.signals import engagement_rated
from success import events
from success import health_components as hc
from success.health_models import AccountHealth, Band, HealthComponent, HealthHistory, HealthModel
from success.models import KeyContact

MAX_SEGMENT = 60

C = HealthComponent

DEFAULT_WEIGHTS: dict[str, int] = {
    C.HEALTH_CHECK: 15,
    C.CSAT: 10,
    C.NPS: 10,
    C.USAGE_TREND: 15,
    C.LICENCE_UTILISATION: 15,
    C.SUPPORT_LOAD: 10,
    C.LATE_ENGAGEMENTS: 5,
    C.OVERDUE_INVOICES: 5,
    C.ENTITLEMENTS: 5,
    C.RECENCY: 5,
    C.CONTACT_CHANGE: 5,
}
DEFAULT_RED_BELOW, DEFAULT_GREEN_FROM = 40, 70


@dataclass(frozen=True)
class Weights:
    """One segment's weights (component → whole number, adding up to 100) and bands."""

    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    red_below: int = DEFAULT_RED_BELOW
    green_from: int = DEFAULT_GREEN_FROM

    def band(self, score: int) -> Band:
        if score < self.red_below:
            return Band.RED
        return Band.GREEN if score >= self.green_from else Band.AMBER


@dataclass(frozen=True)
class Score:
    score: int
    band: Band
    components: dict[str, dict[str, Any]]  # component → score, weight, share, fact, value, shown
    rescaled: bool  # some weighted component had no data


def models_of(vendor_id: int) -> dict[str, Weights]:
    """The vendor's weights by segment; ``''`` always present (the defaults when unset)."""
    rows = db.session.scalars(sa.select(HealthModel).where(HealthModel.vendor_id == vendor_id))
    models = {
        row.segment: Weights(
            {**{c.value: 0 for c in C}, **row.weights}, row.red_below, row.green_from
        )
        for row in rows
    }
    models.setdefault("", Weights())
    return models


def weights_for(models: Mapping[str, Weights], segment: str) -> Weights:
    return models.get(segment) or models[""]


def combine(readings: Iterable[tuple[C, hc.Reading]], weights: Weights) -> Score | None:
    """The weighted mean of the components with data; ``None`` when none has weight."""
    present = [(c, r, int(weights.weights.get(c.value, 0))) for c, r in readings]
    total = sum(weight for _, _, weight in present)
    if total <= 0:
        return None
    score = round(sum(r.score * weight for _, r, weight in present) / total)
    components = {
        c.value: {
            "score": r.score,
            "weight": weight,
            "share": round(weight * 100 / total, 1),
            "fact": r.fact,
            "value": r.value,
            "shown": r.shown,
        }
        for c, r, weight in present
    }
    rescaled = total != sum(weights.weights.values())
    return Score(score, weights.band(score), components, rescaled)


# --- recompute ---------------------------------------------------------------------------


def _moment(as_of: date) -> datetime:
    """When a run "as of" a day happened: now for today, the day's noon for a past day."""
    now = utcnow()
    return now if as_of >= now.date() else datetime.combine(as_of, time(12), tzinfo=UTC)


def recompute(vendor_id: int, as_of: date, customer_ids: Iterable[int] | None = None) -> set[int]:
    """Score the vendor's customers (all, or ``customer_ids``) as of ``as_of``, write the
    scores and history, tell ``events.health_changed`` and commit; returns the customers
    whose score or band changed. Runs in the vendor's tenant scope."""
    ids = None if customer_ids is None else tuple(sorted(set(customer_ids)))
    if ids == ():
        return set()
    scope = hc.Scope(vendor_id, as_of, ids)
    segments, readings = hc.read_all(scope)
    models = models_of(vendor_id)
    scores = {
        customer_id: combine(hc.of_customer(readings, customer_id), weights_for(models, segment))
        for customer_id, segment in segments.items()
    }
    changed = _write(scope, scores)
    if changed:
        events.health_changed.send(vendor_id, customer_ids=changed)
    db.session.commit()
    return changed


def _current(scope: hc.Scope) -> dict[int, AccountHealth]:
    stmt = sa.select(AccountHealth).where(
        AccountHealth.vendor_id == scope.vendor_id, *scope.only(AccountHealth.customer_id)
    )
    return {row.customer_id: row for row in db.session.scalars(stmt)}


def _write(scope: hc.Scope, scores: Mapping[int, Score | None]) -> set[int]:
    table = AccountHealth.__table__
    now = _moment(scope.as_of)
    current = _current(scope)
    inserts, updates, gone, changed = [], [], [], set()
    for customer_id, score in scores.items():
        row = current.get(customer_id)
        if score is None:
            if row is not None:
                gone.append(row.id)
            continue
        values = {"score": score.score, "band": score.band, "components": score.components}
        moved = row is None or row.score != score.score or row.band is not score.band
        if moved:
            changed.add(customer_id)
        if row is None:
            inserts.append(
                {
                    "vendor_id": scope.vendor_id,
                    "customer_id": customer_id,
                    **values,
                    "computed_at": now,
                    "changed_at": now,
                }
            )
        else:
            updates.append(
                {
                    "row_id": row.id,
                    **values,
                    "computed_at": now,
                    "changed_at": now if moved else row.changed_at,
                }
            )
    history = _history(scope, {c: scores[c] for c in changed}, current)
    if inserts:
        db.session.execute(sa.insert(table), inserts)
    if updates:
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("row_id")),
            updates,
        )
    if gone:
        db.session.execute(sa.delete(table).where(table.c.id.in_(gone)))
    db.session.flush()
    _write_history(scope, history)
    return changed


@dataclass
class _Change:
    score: Score
    before: Mapping[str, Any]
    days: int


def _history(
    scope: hc.Scope, moved: Mapping[int, Score], current: Mapping[int, AccountHealth]
) -> dict[int, _Change]:
    """What each moved score is compared with: the latest history row before the day when
    the day has a row already (a second change the same day), else the score as it stood."""
    if not moved:
        return {}
    same_day = set(_rows_on(scope, moved))
    earlier = _latest_before(scope, same_day)
    made = {}
    for customer_id, score in moved.items():
        if customer_id in same_day:
            base = earlier.get(customer_id)
            before, since = (base.components, base.day) if base else ({}, scope.as_of)
        else:
            row = current.get(customer_id)
            before = row.components if row is not None else {}
            since = row.computed_at.date() if row is not None else scope.as_of
        made[customer_id] = _Change(score, before, (scope.as_of - since).days)
    return made


def _rows_on(scope: hc.Scope, customers: Iterable[int]) -> dict[int, int]:
    """Today's history rows (customer → row id) of the vendor; read by the (vendor, day)
    index, then kept for ``customers``."""
    wanted = set(customers)
    rows = db.session.execute(
        sa.select(HealthHistory.customer_id, HealthHistory.id).where(
            HealthHistory.vendor_id == scope.vendor_id, HealthHistory.day == scope.as_of
        )
    )
    return {customer_id: row_id for customer_id, row_id in rows if customer_id in wanted}


def _latest_before(scope: hc.Scope, customers: set[int]) -> dict[int, HealthHistory]:
    if not customers:
        return {}
    outer = aliased(HealthHistory)
    latest = (
        sa.select(sa.func.max(HealthHistory.day))
        .where(HealthHistory.customer_id == outer.customer_id, HealthHistory.day < scope.as_of)
        .scalar_subquery()
    )
    stmt = sa.select(outer).where(outer.customer_id.in_(sorted(customers)), outer.day == latest)
    return {row.customer_id: row for row in db.session.scalars(stmt)}


def _write_history(scope: hc.Scope, history: Mapping[int, _Change]) -> None:
    table = HealthHistory.__table__
    existing = _rows_on(scope, history)
    inserts, updates = [], []
    for customer_id, change in history.items():
        values = {
            "score": change.score.score,
            "band": change.score.band,
            "components": change.score.components,
            "changes": hc.explain(change.before, change.score.components, change.days),
        }
        if customer_id in existing:
            updates.append({"row_id": existing[customer_id], **values})
        else:
            inserts.append(
                {
                    "vendor_id": scope.vendor_id,
                    "customer_id": customer_id,
                    "day": scope.as_of,
                    **values,
                }
            )
    if inserts:
        db.session.execute(sa.insert(table), inserts)
    if updates:
        db.session.execute(sa.update(table).where(table.c.id == sa.bindparam("row_id")), updates)


# --- the vendor's weights ----------------------------------------------------------------


@dataclass(frozen=True)
class ModelChange:
    """A segment's weights and bands as typed (``None``: left empty)."""

    segment: str
    weights: Mapping[str, int | None]
    red_below: int | None
    green_from: int | None


def _valid_weights(typed: Mapping[str, int | None]) -> dict[str, int]:
    weights = {}
    for component in C:
        weight = typed.get(component.value)
        label = hc.LABELS[component]
        if weight is None:
            raise ServiceError(
                f"Weight of {label}: a whole number from 0 to 100 (0 leaves it out)."
            )
        if weight < 0:
            raise ServiceError(f"Weight of {label}: cannot be negative ({weight}).")
        if weight > 100:
            raise ServiceError(f"Weight of {label}: at most 100.")
        weights[component.value] = weight
    total = sum(weights.values())
    if total != 100:
        raise ServiceError(f"The weights add up to {total}; they must add up to 100.")
    return weights


def _valid_bands(red_below: int | None, green_from: int | None) -> tuple[int, int]:
    if red_below is None or green_from is None or not 0 < red_below < green_from <= 100:
        raise ServiceError(
            "Bands: red below a score more than 0, green from a higher score of at most 100 "
            f"(you gave {red_below} and {green_from})."
        )
    return red_below, green_from


def save_model(actor: Actor | None, change: ModelChange) -> HealthModel:
    """An admin sets a segment's weights and bands (``''``: the default for every segment
    without its own); a change is audited and every score recomputed (queued)."""
    if actor is None or actor.role is not Role.ADMIN:
        raise NotAllowed("Only an admin tunes the health score.")
    segment = " ".join((change.segment or "").split())
    if len(segment) > MAX_SEGMENT:
        raise ServiceError(f"Segment: at most {MAX_SEGMENT} characters.")
    weights = _valid_weights(change.weights)
    red_below, green_from = _valid_bands(change.red_below, change.green_from)
    model = db.session.scalar(sa.select(HealthModel).where(HealthModel.segment == segment))
    if model is None:
        model = HealthModel(vendor_id=actor.vendor_id, segment=segment, weights={})
        db.session.add(model)
        db.session.flush()
    changes = audit.diff(
        model, {"weights": weights, "red_below": red_below, "green_from": green_from}
    )
    if changes:
        model.updated_at = utcnow()
        model.updated_by_id = actor.user_id
        audit.record("success.health_model_changed", model, changes={"segment": segment, **changes})
        enqueue_recompute(actor.vendor_id, None)
    db.session.commit()
    return model


def remove_model(actor: Actor | None, segment: str) -> None:
    """An admin sends a segment back to the default weights (audited, recomputed)."""
    if actor is None or actor.role is not Role.ADMIN:
        raise NotAllowed("Only an admin tunes the health score.")
    if not segment:
        raise ServiceError("The default weights stay; change them instead.")
    model = db.session.scalar(sa.select(HealthModel).where(HealthModel.segment == segment))
    if model is not None:
        audit.record(
            "success.health_model_removed",
            model,
            changes={"segment": segment, "weights": model.weights},
        )
        db.session.delete(model)
        enqueue_recompute(actor.vendor_id, None)
    db.session.commit()


# --- when it runs ------------------------------------------------------------------------

RECOMPUTE = "success.health-recompute"
NIGHTLY_KEY = "health-nightly:{vendor_id}:{day}"


def enqueue_recompute(vendor_id: int, customer_ids: Iterable[int] | None) -> None:
    """Ask, in the caller's transaction, for the scores of ``customer_ids`` (``None``: all
    of the vendor's customers) to be recomputed after it commits: one queued job per ask."""
    ids = None if customer_ids is None else sorted(set(customer_ids))
    enqueue(
        RECOMPUTE,
        f"health:{vendor_id}:{uuid.uuid4().hex}",
        vendor_id=vendor_id,
        payload={"vendor_id": vendor_id, "customer_ids": ids},
    )


@performs(RECOMPUTE)
def _perform_recompute(payload: dict[str, Any]) -> None:
    as_of = date.fromisoformat(payload["as_of"]) if payload.get("as_of") else utcnow().date()
    recompute(payload["vendor_id"], as_of, payload.get("customer_ids"))


@every(60 * 60)
def nightly_recompute() -> int:
    """Once a day per vendor (the first hourly run of the day): a queued recompute of every
    customer, keyed by vendor and day, so two schedulers ask for it once and it runs once."""
    today = utcnow().date()
    vendors = db.session.scalars(
        sa.select(Organization.id)
        .where(Organization.kind == OrgKind.VENDOR)
        .order_by(Organization.id)
    ).all()
    asked = 0
    for vendor_id in vendors:
        asked += enqueue(
            RECOMPUTE,
            NIGHTLY_KEY.format(vendor_id=vendor_id, day=today.isoformat()),
            vendor_id=vendor_id,
            payload={"vendor_id": vendor_id, "customer_ids": None, "as_of": today.isoformat()},
        )
    db.session.commit()
    return asked


@events.signals_recorded.connect
def _on_signals(vendor_id: int, customer_ids: Iterable[int] = (), **_: Any) -> None:
    enqueue_recompute(vendor_id, customer_ids)


@ENGAGEMENT_LIFE.changed.connect
def _on_engagement_moved(engagement: Engagement, to: EngagementState, **_: Any) -> None:
    """Delivered (a late engagement no longer late) and accepted (a health-check result,
    recency) move a customer's score."""
    if to in (EngagementState.DELIVERED, EngagementState.ACCEPTED):
        enqueue_recompute(engagement.vendor_id, [engagement.customer_id])


@engagement_rated.connect
def _on_engagement_rated(engagement: Engagement, **_: Any) -> None:
    """A CSAT rating moves the customer's CSAT component."""
    enqueue_recompute(engagement.vendor_id, [engagement.customer_id])


@events.key_contact_changed.connect
def _on_key_contact_changed(contact: KeyContact, customer: Organization, **_: Any) -> None:
    """Someone new in a key role is a risk factor: the account is recomputed."""
    enqueue_recompute(customer.tenant_id, [customer.id])
