"""``make test``: the three test lanes, one after the other, as separate pytest runs.

    sqlite      pytest tests --ignore=tests/e2e --database=sqlite
    postgresql  pytest tests --ignore=tests/e2e --database=postgresql
    browser     pytest tests/e2e

Every lane runs even when an earlier one failed, so one run shows all failures. A lane whose
prerequisite is missing is skipped with a line saying how to get it; with ``CI=true`` a
missing prerequisite fails the run instead, so CI cannot go green on fewer lanes.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests import postgres

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]


def _postgresql_missing() -> str | None:
    if postgres.find_binaries() is None:
        return f"PostgreSQL initdb/pg_ctl not found — {postgres.HOW_TO_GET}"
    return None


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} missing — apt-get install chromium"
    try:
        importlib.import_module("playwright.sync_api")
    except ImportError as error:
        return f"playwright does not import ({error}) — pip install -e '.[test]'"
    return None


@dataclass(frozen=True)
class Lane:
    name: str
    args: tuple[str, ...]
    missing: Callable[[], str | None] = lambda: None


LANES = (
    Lane("sqlite", ("tests", "--ignore=tests/e2e", "--database=sqlite")),
    Lane(
        "postgresql", ("tests", "--ignore=tests/e2e", "--database=postgresql"), _postgresql_missing
    ),
    Lane("browser", ("tests/e2e",), _browser_missing),
)


def run_lane(lane: Lane, on_ci: bool) -> tuple[str, float]:
    """Run one lane; answer its outcome (passed, failed, skipped) and seconds taken."""
    reason = lane.missing()
    if reason is not None:
        if on_ci:
            print(f"{lane.name} lane FAILED: {reason} (CI=true needs every lane)", flush=True)
            return "failed", 0.0
        print(f"{lane.name} lane skipped: {reason}", flush=True)
        return "skipped", 0.0
    command = [*PYTEST, *lane.args]
    print(f"=== {lane.name} lane: pytest {' '.join(lane.args)}", flush=True)
    started = time.monotonic()
    returncode = subprocess.run(command, cwd=ROOT, check=False).returncode
    return ("passed" if returncode == 0 else "failed"), time.monotonic() - started


def main() -> int:
    on_ci = os.environ.get("CI", "").strip().lower() == "true"
    results = [(lane.name, *run_lane(lane, on_ci)) for lane in LANES]
    print("=== lanes: " + ", ".join(f"{n} {o} ({s:.1f}s)" for n, o, s in results), flush=True)
    return 1 if any(outcome == "failed" for _, outcome, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
