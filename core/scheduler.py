"""Background jobs (APScheduler): a registry each area adds its jobs to, and
``flask scheduler run`` that runs them in a process of its own.

Every job runs inside an app context and an all-tenants scope, and must be idempotent and
safe when two scheduler processes run at once (claim its rows through ``core.claims``, check
state before changing it). ``flask scheduler drain`` runs every job until none finds work
(operations, tests); ``start_in_process`` runs them inside the development server, so the
demo sends its mail and renders its PDFs by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import AppGroup

from core.extensions import db
from core.mail import deliver_pending
from core.queue import run_queued
from core.tenancy import all_tenants


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], Any]
    seconds: int


_jobs: list[Job] = []

scheduler_cli = AppGroup("scheduler", help="Background jobs.")


def every(seconds: int) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register ``func`` to run every ``seconds``."""

    def register(func: Callable[[], Any]) -> Callable[[], Any]:
        _jobs.append(Job(f"{func.__module__}.{func.__name__}", func, seconds))
        return func

    return register


def jobs() -> list[Job]:
    return list(_jobs)


def run_job(app: Flask, job: Job) -> Any:
    """Run one job as the scheduler does: in an app context, across tenants, never leaking
    a failed transaction into the next run."""
    with app.app_context(), all_tenants():
        try:
            return job.func()
        finally:
            db.session.remove()


def configure(app: Flask, scheduler: BaseScheduler) -> BaseScheduler:
    for job in _jobs:
        scheduler.add_job(
            run_job,
            "interval",
            args=[app, job],
            seconds=job.seconds,
            id=job.id,
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )
    return scheduler


@scheduler_cli.command("run")
def run_command() -> None:
    """Run every background job on its schedule until stopped."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = configure(app, BlockingScheduler(timezone="UTC"))
    for job in _jobs:
        click.echo(f"scheduled {job.id} every {job.seconds}s")
    scheduler.start()


@scheduler_cli.command("drain")
def drain_command() -> None:
    """Run every job until none finds work left, then stop."""
    done = drain(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"{done} pieces of work done")


def drain(app: Flask, rounds: int = 100) -> int:
    """Run every job again and again until a round does nothing; how much was done. Work
    that failed waits for its back-off, so it does not keep a round busy."""
    total = 0
    for _ in range(rounds):
        done = sum(int(run_job(app, job) or 0) for job in _jobs)
        total += done
        if not done:
            break
    return total


def start_in_process(app: Flask) -> BackgroundScheduler:
    """Run the jobs in threads of this process: the development server's way."""
    scheduler = configure(app, BackgroundScheduler(timezone="UTC", daemon=True))
    scheduler.start()
    return scheduler


every(2)(run_queued)
every(5)(deliver_pending)
