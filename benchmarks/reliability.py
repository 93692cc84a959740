"""Abuse cases tried, passed and failed per area: memory, datasets, checkpoints, recipes, CLI, live.

Runs every test marked `reliability(area)` (the hostile-user cases of issue 23: kills, disk full,
corrupt and adversarial files, odd paths, bad values) with the property-based ones under
Hypothesis's "thorough" profile (600 random files or recipes each instead of 40), and counts
the outcomes per area; a parametrised test counts once per case.

    python -m benchmarks.reliability           # ~5 min on 2 cores; writes results/reliability.json
    python -m benchmarks.reliability --quick   # the property tests with make test's 40 examples

Exit status 1 when any case fails.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

import pytest

from benchmarks.results_file import RESULTS, ROOT, repository_path, write_results

COLUMNS = ("tried", "passed", "failed", "skipped")


class AreaCounter:
    """A pytest plugin: the outcome of every reliability case, by its marker's area."""

    def __init__(self) -> None:
        self.areas: dict[str, str] = {}
        self.outcomes: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Remember each case's area (the first argument of its `reliability` marker)."""
        for item in items:
            marker = item.get_closest_marker("reliability")
            if marker is not None:
                self.areas[item.nodeid] = marker.args[0] if marker.args else "unassigned"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A case failed if any phase failed; skipped if its setup skipped it; else passed."""
        if report.nodeid not in self.areas:
            return
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.skipped and report.nodeid not in self.outcomes:
            self.outcomes[report.nodeid] = "skipped"
        elif report.when == "call" and report.passed:
            self.outcomes.setdefault(report.nodeid, "passed")

    def counts(self) -> dict[str, dict[str, int]]:
        """`{area: {tried, passed, failed, skipped}}` (tried: run to an outcome, skips excluded)."""
        table: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for nodeid, area in sorted(self.areas.items()):
            outcome = self.outcomes.get(nodeid, "not run")
            table[area][outcome] += 1
            if outcome in ("passed", "failed"):
                table[area]["tried"] += 1
        return {area: {key: counter[key] for key in COLUMNS} for area, counter in table.items()}


def main() -> int:
    """Run the cases, print the table, write results/reliability.json; 1 if any case failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="make test's Hypothesis examples")
    parser.add_argument("--out", type=Path, default=RESULTS / "reliability.json")
    args = parser.parse_args()
    profile = "default" if args.quick else "thorough"
    os.environ["HYPOTHESIS_PROFILE"] = profile
    counter = AreaCounter()
    started = time.perf_counter()
    code = pytest.main(
        ["-q", "-m", "reliability", "-p", "no:cacheprovider", str(ROOT / "tests")],
        plugins=[counter],
    )
    minutes = (time.perf_counter() - started) / 60
    counts = counter.counts()
    total = {key: sum(area[key] for area in counts.values()) for key in COLUMNS}
    print(f"\n{'area':<12}", *(f"{key:>7}" for key in COLUMNS))
    for area, row in sorted(counts.items()) + [("all", total)]:
        print(f"{area:<12}", *(f"{row[key]:>7}" for key in COLUMNS))
    document = {
        "hypothesis_profile": profile,
        "minutes": minutes,
        "areas": counts,
        "all": total,
        "failed_cases": sorted(n for n, o in counter.outcomes.items() if o == "failed"),
    }
    print(f"wrote {repository_path(write_results('reliability', document, out=args.out))}")
    return 1 if code != 0 or total["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
