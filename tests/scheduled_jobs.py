"""Running a scheduler job from a test: once, or from two threads at the same moment, as two
schedulers would (real threads on the lane's database)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from core import scheduler


def run_once(app, func: Callable[[], int]) -> int:
    return scheduler.run_job(app, next(j for j in scheduler.jobs() if j.func is func))


def run_at_once(app, func: Callable[[], int]) -> list[int]:
    """Run the job in two threads that start together, as two schedulers would."""
    job = next(j for j in scheduler.jobs() if j.func is func)
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(scheduler.run_job(app, job))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results
