"""``make test``: the three test lanes as separate pytest runs.

    sqlite      pytest tests --ignore=tests/e2e --database=sqlite
    postgresql  pytest tests --ignore=tests/e2e --database=postgresql
    browser     pytest tests/e2e

Two chains run side by side, each lane one Python process mostly on one core: the SQLite
lane and then the browser lane, beside the PostgreSQL lane (the longest). They share
nothing: the SQLite and browser lanes work in temporary files, the PostgreSQL lane in a
throwaway server of its own. Each lane writes to a log that is printed whole when it ends,
so their outputs never interleave. Every lane runs even when
another failed, so one run shows all failures. A lane whose
prerequisite is missing is skipped with a line saying how to get it; with ``CI=true`` a
missing prerequisite fails the run instead, so CI cannot go green on fewer lanes.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    started = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as log:
        returncode = subprocess.run(
            [*PYTEST, *lane.args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False
        ).returncode
        log.seek(0)
        print(f"=== {lane.name} lane: pytest {' '.join(lane.args)}\n{log.read()}", flush=True)
    return ("passed" if returncode == 0 else "failed"), time.monotonic() - started


# Lanes of a chain run one after the other; chains run side by side.
CHAINS = ((LANES[0], LANES[2]), (LANES[1],))


def main() -> int:
    on_ci = os.environ.get("CI", "").strip().lower() == "true"

    def run_chain(chain: tuple[Lane, ...]) -> list[tuple[str, str, float]]:
        return [(lane.name, *run_lane(lane, on_ci)) for lane in chain]

    with ThreadPoolExecutor(max_workers=len(CHAINS)) as pool:
        done = {
            name: (outcome, seconds)
            for chain in pool.map(run_chain, CHAINS)
            for name, outcome, seconds in chain
        }
    results = [(lane.name, *done[lane.name]) for lane in LANES]
    print("=== lanes: " + ", ".join(f"{n} {o} ({s:.1f}s)" for n, o, s in results), flush=True)
    return 1 if any(outcome == "failed" for _, outcome, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
