"""Background jobs (APScheduler): a registry each area adds its jobs to, and
``flask scheduler run`` that runs them in a process of its own.

Every job runs inside an app context and an all-tenants scope, and must be idempotent and
safe when two scheduler processes run at once (claim rows with SKIP LOCKED, check state
before changing it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import AppGroup

from core.extensions import db
from core.mail import deliver_pending
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


every(30)(deliver_pending)
