"""``make mutate``: how many mutants of the modules that hold guarantees the tests kill.

mutmut (configured in ``[tool.mutmut]`` of pyproject.toml) copies the packages and the tests
into ``mutants/`` and writes every mutant of the modules below into the copy, each behind a
switch. It runs the tests once to learn which tests run each function, then runs each mutant
from inside ``mutants/`` (so the tests import the mutated copy, not the working tree) against
tests that run its function, stopping at the first failure: a failure kills the mutant.

This module is also the pytest plugin that picks those tests (``-p tests.mutate`` in mutmut's
pytest arguments): of the tests that run the mutated function, those about its module
(``TESTS_OF``), ``MAX_TESTS_PER_MUTANT`` of them and as many more as fit in
``TEST_SECONDS_PER_MUTANT``. mutmut's own runs (which tests run what, the clean run, the
forced failure) see the tests of every module here. SQLite lane
only; the browser tests never run.

Not part of ``make test`` or CI. Prints ``name: value`` lines: ``mutation_kill_rate`` is
killed / (killed + survived); then every mutant not killed, by id (``mutmut show <id>``
prints its change).

    python -m tests.mutate           a fresh run (rebuilds mutants/: the figure the README quotes)
    python -m tests.mutate --keep    reuse mutants/: test new or changed functions, and retest
                                     the survivors (after adding tests)
    python -m tests.mutate --report  print the figure and survivors of the last run
    ... --only core.money ...        run and report only these modules' mutants (with --keep:
                                     retest them all, killed ones too, against today's tests)
    ... --max-tests 0                meet every test of the module that runs the function
                                     (no cap; slow for ordering.payments), or N test functions
    ... --diffs                      print each survivor's change under its id

``mutmut show <id>`` and ``mutmut apply <id>`` read ``mutants/`` and pyproject.toml from the
project root: run them there, as ``.venv/bin/mutmut`` (it is not on the PATH unless the
virtualenv is active), and quote the id, whose ``ǁ`` some terminals mangle when copied.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
MUTMUT = Path(sys.executable).with_name("mutmut")

# The tests that check each module's guarantees. A mutant of the module is run against those
# of them that run the mutated function (mutmut's coverage), fastest first, until one fails.
TESTS_OF: dict[str, tuple[str, ...]] = {
    "core.tenancy": (
        "tests/core/test_tenancy.py",
        "tests/test_defence_layers.py",
        "tests/test_tenant_matrix.py",
        "tests/core/test_refusal_audit.py",
    ),
    "core.permissions": (
        "tests/test_policies.py",
        "tests/test_tenant_matrix.py",
        "tests/core/test_refusal_audit.py",
        "tests/catalog/test_roles.py",
    ),
    "core.states": ("tests/core/test_state_machines.py", "tests/ordering/test_approvals.py"),
    "core.claims": (
        "tests/core/test_queue.py",
        "tests/core/test_mail.py",
        "tests/core/test_scheduler.py",
    ),
    "core.money": ("tests/core/test_money.py", "tests/ordering/test_money_path.py"),
    "core.csv_export": ("tests/core/test_csv_export.py",),
    "core.stripe_webhooks": ("tests/ordering/test_stripe_webhooks.py",),
    "catalog.markdown": (
        "tests/catalog/test_markdown.py",
        "tests/test_defence_layers.py",
        "tests/catalog/test_authoring.py",
    ),
    "catalog.policies": ("tests/test_policies.py", "tests/catalog/test_recommendations.py"),
    "ordering.policies": (
        "tests/test_policies.py",
        "tests/ordering/test_approvals.py",
        "tests/ordering/test_orders.py",
    ),
    "ordering.checkout": (
        "tests/ordering/test_checkout.py",
        "tests/ordering/test_hostile_checkout.py",
        "tests/ordering/test_money_path.py",
        "tests/ordering/test_entitlements.py",  # orders paid with credits
    ),
    "ordering.payments": (
        "tests/ordering/test_stripe_checkout.py",
        "tests/ordering/test_stripe_webhooks.py",
        "tests/ordering/test_stripe_refunds.py",
        "tests/ordering/test_money_path.py",
    ),
    "ordering.entitlements": (
        "tests/ordering/test_entitlements.py",
        "tests/ordering/test_checkout.py",
        "tests/ordering/test_orders.py",
    ),
    "ordering.orders": (
        "tests/ordering/test_approvals.py",
        "tests/ordering/test_orders.py",
        "tests/ordering/test_audit.py",
    ),
    "billing.invoices": ("tests/billing/test_invoicing.py", "tests/billing/test_invoice_pages.py"),
    "billing.payments": (
        "tests/billing/test_payments.py",
        "tests/billing/test_invoice_card_payments.py",
        "tests/billing/test_payment_concurrency.py",
    ),
    "billing.credit_notes": ("tests/billing/test_credit_notes.py",),
    "billing.charges": ("tests/billing/test_invoicing.py", "tests/billing/test_reconciliation.py"),
}
ALL_OF_THEM = frozenset(path for paths in TESTS_OF.values() for path in paths)


# --- the pytest plugin -----------------------------------------------------------------------

# A mutant meets at least this many test functions (each with all its parametrized cases):
# the fastest of each of its module's test files that runs its function, then the next
# fastest of each, and so on; then the fastest of the others while they fit in a further
# ``TEST_SECONDS_PER_MUTANT`` of test time (as mutmut measured it), so fast unit tests are met
# whole and a slow test among the first four does not crowd out those that would kill. Every
# mutant runs in a pytest session of its own (a new app and database) on two cores: with no
# cap a run of the ~2,200 mutants takes hours, as a mutant that survives runs every test that
# covers it (the Stripe tests cover most of ordering.payments). A mutant these tests miss
# counts as survived: the figure errs low. ``--max-tests`` (the MUTATE_MAX_TESTS environment
# variable of mutmut's workers) changes the count for one run; 0 lifts the cap.
MAX_TESTS_PER_MUTANT = int(os.environ.get("MUTATE_MAX_TESTS", "4"))
TEST_SECONDS_PER_MUTANT = 3.0


def tests_for(mutant_under_test: str) -> tuple[str, ...]:
    """The test files a run may use: a mutant's module's, in ``TESTS_OF`` order, or (mutmut's
    other runs: ``stats``, the clean run, ``fail``) those of every module."""
    if "__mutmut_" not in mutant_under_test:
        return tuple(sorted(ALL_OF_THEM))
    return TESTS_OF[Mutant(mutant_under_test, "").module]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests a run may use. mutmut passes a mutant's tests fastest first."""
    mutant_under_test = os.environ.get("MUTANT_UNDER_TEST", "")
    allowed = tests_for(mutant_under_test)
    keep = [item for item in items if _file(item) in allowed]
    if "__mutmut_" in mutant_under_test and MAX_TESTS_PER_MUTANT > 0:
        keep = _first_functions(keep, allowed, MAX_TESTS_PER_MUTANT)
    if len(keep) < len(items):
        kept = set(keep)
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = keep


def _file(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def _first_functions(
    items: list[pytest.Item], files: tuple[str, ...], limit: int
) -> list[pytest.Item]:
    """The cases of the first ``limit`` test functions, taking the fastest remaining function
    of each file in turn, then of the fastest others while they fit in a further
    ``TEST_SECONDS_PER_MUTANT`` of measured test time. A function costs all its cases."""
    seconds = _durations()
    functions: dict[str, dict[str, list[pytest.Item]]] = {path: {} for path in files}
    for item in items:
        function = item.nodeid.split("[")[0]
        functions[_file(item)].setdefault(function, []).append(item)

    def cost(cases: list[pytest.Item]) -> float:
        return sum(seconds.get(item.nodeid, 0.0) for item in cases)

    by_file = [sorted(by_name.values(), key=cost) for by_name in functions.values()]
    ordered = [cases for row in zip_longest(*by_file) for cases in row if cases is not None]
    chosen, spent = ordered[:limit], 0.0
    for cases in sorted(ordered[limit:], key=cost):
        if spent + cost(cases) > TEST_SECONDS_PER_MUTANT:
            break
        chosen.append(cases)
        spent += cost(cases)
    return [item for cases in chosen for item in cases]


def _durations() -> dict[str, float]:
    """Seconds per test as mutmut's stats run measured them (its runs work in ``mutants/``)."""
    try:
        stats = json.loads(Path("mutmut-stats.json").read_text())
    except (OSError, ValueError):
        return {}
    return stats.get("duration_by_test", {})


# --- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    name: str  # ordering.payments.x__settle__mutmut_12, core.money.xǁMoneyǁparse__mutmut_3
    status: str  # killed, survived, no tests, timeout, ...

    @property
    def module(self) -> str:
        return self.name.rsplit(".", 1)[0]

    @property
    def function(self) -> str:
        """``_settle`` or ``Money.parse``: the function the mutant changes."""
        mangled = self.name.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]
        if mangled.startswith("x_"):
            return mangled.removeprefix("x_")
        return ".".join(part for part in mangled.removeprefix("x").split("ǁ") if part)


def mutmut(
    *args: str, capture: bool = False, max_tests: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run mutmut from the project root. Its pytest runs keep their temporary files apart, so
    they never clean up (or fill) the directory other test runs on this machine use."""
    temp_root = Path(tempfile.gettempdir()) / "servlet-desk-mutate"
    temp_root.mkdir(exist_ok=True)
    env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": str(temp_root)}
    if max_tests is not None:
        env["MUTATE_MAX_TESTS"] = str(max_tests)
    return subprocess.run(
        [str(MUTMUT), *args],
        cwd=ROOT,
        env=env,
        capture_output=capture,
        text=True,
        check=False,
    )


def results() -> list[Mutant]:
    listing = mutmut("results", "--all", "true", capture=True)
    if listing.returncode != 0:
        sys.exit(f"mutmut results failed:\n{listing.stderr}")
    mutants = []
    for line in listing.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if "__mutmut_" in name:
            mutants.append(Mutant(name, status))
    return mutants


def report(mutants: list[Mutant], seconds: float | None, diffs: bool = False) -> None:
    counts = Counter(m.status for m in mutants)
    killed, survived = counts["killed"], counts["survived"]
    rate = killed / (killed + survived) if killed + survived else 0.0
    print(f"mutation_kill_rate: {rate:.3f}")
    print(f"mutants: {len(mutants)}")
    for status, count in sorted(counts.items()):
        print(f"mutants_{status.replace(' ', '_')}: {count}")
    by_module = Counter(m.module for m in mutants if m.status == "survived")
    for module, count in by_module.most_common():
        print(f"survived_{module}: {count}")
    if seconds is not None:
        print(f"mutate_seconds: {seconds:.0f}")
    print("not killed (--diffs prints each change; or, from here, .venv/bin/mutmut show '<id>'):")
    for mutant in sorted(mutants, key=lambda m: m.name):
        if mutant.status != "killed":
            print(f"  {mutant.status}: {mutant.module} {mutant.function} {mutant.name}")
            if diffs:
                print(_indented(mutmut("show", mutant.name, capture=True).stdout))


def _indented(diff: str) -> str:
    """A mutant's diff, without mutmut's heading and file names, under its line."""
    lines = [line for line in diff.splitlines() if not line.startswith(("# ", "--- ", "+++ "))]
    return "\n".join(f"      {line}" for line in lines)


def check_modules() -> None:
    """``TESTS_OF`` names exactly the modules mutmut mutates."""
    mutated = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    modules = {path.removesuffix(".py").replace("/", ".") for path in mutated["only_mutate"]}
    if modules != set(TESTS_OF):
        sys.exit(f"tests/mutate.py TESTS_OF and [tool.mutmut] only_mutate differ: {modules}")
    missing = [path for path in ALL_OF_THEM if not (ROOT / path).exists()]
    if missing:
        sys.exit(f"tests/mutate.py TESTS_OF names missing files: {missing}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ and its verdicts")
    parser.add_argument("--report", action="store_true", help="only report the last run")
    parser.add_argument("--only", nargs="+", metavar="MODULE", help="only these modules")
    parser.add_argument("--max-tests", type=int, help="test functions per mutant (0: all)")
    parser.add_argument("--diffs", action="store_true", help="print each survivor's change")
    options = parser.parse_args()
    check_modules()
    unknown = set(options.only or ()) - set(TESTS_OF)
    if unknown:
        sys.exit(f"not a mutated module: {', '.join(sorted(unknown))}")
    seconds = None
    if not options.report:
        started = time.monotonic()
        if not options.keep:
            shutil.rmtree(MUTANTS, ignore_errors=True)
        if options.only:
            # A mutant named by a pattern is run whatever its last verdict.
            patterns = [f"{module}.*" for module in options.only]
            if mutmut("run", *patterns, max_tests=options.max_tests).returncode != 0:
                return 1
        else:
            if mutmut("run", max_tests=options.max_tests).returncode != 0:
                return 1
            # mutmut keeps a verdict until the function changes: after new tests, ask again.
            again = [m.name for m in results() if m.status != "killed"] if options.keep else []
            if again and mutmut("run", *again, max_tests=options.max_tests).returncode != 0:
                return 1
        seconds = time.monotonic() - started
        print()
    mutants = [m for m in results() if not options.only or m.module in options.only]
    if not mutants:
        print("no mutants: run `make mutate` first", file=sys.stderr)
        return 1
    report(mutants, seconds, diffs=options.diffs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
