"""Queued jobs: asked for in the caller's transaction, done once after it commits, with no
transaction open, retried with back-off when they fail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core import claims, queue
from core.db import utcnow
from core.extensions import db
from core.queue import QueuedJob, enqueue, run_queued
from core.stripe_webhooks import StripeEvent

calls: list[tuple[dict, bool]] = []


@pytest.fixture
def probe():
    """A kind of job that records its payload and whether a transaction was open, and fails
    while its payload says so."""

    def perform(payload: dict) -> None:
        calls.append((payload, db.session().in_transaction()))
        if payload.get("fail"):
            raise OSError("the remote end is down")

    calls.clear()
    queue.performs("probe")(perform)
    yield calls
    del queue._performers["probe"]


def test_a_job_asked_for_twice_runs_once_with_no_transaction_open(app, unscoped, probe):
    with unscoped():
        enqueue("probe", "probe-1", vendor_id=None, payload={"n": 1})
        enqueue("probe", "probe-1", vendor_id=None, payload={"n": 1})
        db.session.commit()
        assert run_queued() == 1
        assert run_queued() == 0
    assert probe == [({"n": 1}, False)]


def test_a_job_asked_for_in_a_transaction_that_rolls_back_never_runs(app, unscoped, probe):
    with unscoped():
        enqueue("probe", "probe-2", vendor_id=None)
        db.session.rollback()
        assert run_queued() == 0
    assert probe == []


def test_a_failing_job_keeps_its_error_and_waits_before_it_is_tried_again(app, unscoped, probe):
    with unscoped():
        enqueue("probe", "probe-3", vendor_id=None, payload={"fail": True})
        db.session.commit()
        assert run_queued() == 0
        job = db.session.scalar(select(QueuedJob))
        assert (job.attempts, job.done_at) == (1, None)
        assert "remote end is down" in job.last_error
        assert job.due_at > utcnow()
        assert run_queued() == 0  # not due yet
        job.due_at, job.payload = utcnow(), {"fail": False}
        db.session.commit()
        assert run_queued() == 1
        job = db.session.scalar(select(QueuedJob).execution_options(populate_existing=True))
        assert (job.attempts, job.last_error) == (2, None)
        assert job.done_at is not None


def test_asking_for_a_kind_nobody_performs_is_a_bug(app, unscoped):
    with unscoped(), pytest.raises(RuntimeError):
        enqueue("nobody", "nobody-1", vendor_id=None)


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 30), (2, 60), (3, 120), (8, 3840), (9, 7200), (30, 7200)],
)
def test_the_wait_after_a_failure_doubles_from_30_seconds_up_to_two_hours(
    app, unscoped, probe, attempts, seconds
):
    with unscoped():
        enqueue("probe", "probe-5", vendor_id=None)
        db.session.commit()
        [job] = claims.claim(QueuedJob)
        job.attempts = attempts
        before = utcnow()
        claims.failed(job, "E" * 5000)
        db.session.commit()
        after = utcnow()
        job = db.session.scalar(select(QueuedJob))
    wait = timedelta(seconds=seconds)
    assert before + wait <= job.due_at <= after + wait
    assert job.last_error == "E" * 2000
    assert job.claim_token is None


def jobs(count: int) -> list[int]:
    for n in range(count):
        enqueue("probe", f"probe-claim-{n}", vendor_id=None)
    db.session.commit()
    return list(db.session.scalars(select(QueuedJob.id).order_by(QueuedJob.id)))


def test_a_claim_takes_due_free_rows_oldest_first_up_to_its_limit_under_a_lease(
    app, unscoped, probe
):
    with unscoped():
        ids = jobs(9)
        now = utcnow()
        waiting, done, given_up, held, lapsed = (db.session.get(QueuedJob, i) for i in ids[:5])
        waiting.due_at = now + timedelta(hours=1)
        done.done_at = now
        given_up.attempts = claims.MAX_ATTEMPTS
        held.claim_token, held.claimed_until = "another", now + timedelta(minutes=1)
        lapsed.claim_token, lapsed.claimed_until = "died", now - timedelta(seconds=1)
        db.session.commit()
        before = utcnow()
        first = claims.claim(QueuedJob, limit=2)
        after = utcnow()
        second = claims.claim(QueuedJob, limit=10)
        assert claims.claim(QueuedJob) == []
        assert claims.claim(QueuedJob, QueuedJob.kind == "nobody") == []
    assert [row.id for row in first] == [ids[4], ids[5]]
    assert [row.id for row in second] == ids[6:]
    assert [row.attempts for row in first + second] == [1, 1, 1, 1, 1]
    for row in first:
        assert before + claims.LEASE <= row.claimed_until <= after + claims.LEASE
    assert len({row.claim_token for row in first}) == 1
    assert first[0].claim_token not in ("died", second[0].claim_token)


def test_an_outcome_is_written_to_its_own_row_and_never_over_another_claimers_lease(
    app, unscoped, probe
):
    with unscoped():
        jobs(3)
        mine, lost, other = claims.claim(QueuedJob)
        db.session.execute(
            update(QueuedJob).where(QueuedJob.id == lost.id).values(claim_token="next")
        )
        db.session.commit()
        for row in (mine, lost):
            claims.finished(row)
        db.session.commit()
        rows = {row.id: row for row in db.session.scalars(select(QueuedJob))}
    assert (rows[mine.id].done_at is not None, rows[mine.id].claim_token) == (True, None)
    assert (rows[lost.id].done_at, rows[lost.id].claim_token) == (None, "next")
    assert (rows[other.id].done_at, rows[other.id].claim_token) == (None, other.claim_token)


def test_a_finished_row_keeps_the_outcome_it_was_given(app, unscoped):
    with unscoped():
        db.session.add(StripeEvent(event_id="evt_outcome", type="charge.refunded", object_id="ch"))
        db.session.commit()
        [event] = claims.claim(StripeEvent)
        claims.finished(event, outcome="payment 1: refund recorded")
        db.session.commit()
        assert db.session.scalar(select(StripeEvent.outcome)) == "payment 1: refund recorded"


def test_a_job_no_one_here_performs_waits_untouched_for_a_process_that_does(app, unscoped, probe):
    with unscoped():
        enqueue("probe", "probe-elsewhere", vendor_id=None)
        db.session.commit()
        performer = queue._performers.pop("probe")
        try:
            assert run_queued() == 0
        finally:
            queue._performers["probe"] = performer
        job = db.session.scalar(select(QueuedJob))
        assert (job.attempts, job.claim_token, job.last_error) == (0, None, None)
        assert run_queued() == 1
    assert probe == [({}, False)]


def test_a_row_due_this_very_moment_is_claimed(app, unscoped, probe, monkeypatch):
    now = utcnow()
    monkeypatch.setattr(claims, "utcnow", lambda: now)
    with unscoped():
        [job_id] = jobs(1)
        db.session.get(QueuedJob, job_id).due_at = now
        db.session.commit()
        assert [row.id for row in claims.claim(QueuedJob)] == [job_id]
