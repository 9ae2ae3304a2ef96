"""Mutation score of the pure core: how many of mutmut's mutants of `stocker.core` the tests kill.

    .venv/bin/python bench/mutation.py                           # run every mutant, print the table
    .venv/bin/python bench/mutation.py "stocker.core.metrics*"   # (re)run only matching mutants
    .venv/bin/python bench/mutation.py --report                  # print the table from the last run
    .venv/bin/python bench/mutation.py --report --survivors      # ... and list the survivors

mutmut (configured in pyproject.toml, `[tool.mutmut]`) copies `src/` to `mutants/`, rewrites every
function of `src/stocker/core` into its mutants and runs, for each mutant, the tests of
`tests/unit/core` that call that function. Property tests run under the `mutation` Hypothesis
profile (fewer examples, derandomized; tests/conftest.py), so a verdict does not depend on a draw.
Results are kept in `mutants/` and reused: a later run only tries mutants without a verdict, or
those named by a glob (explicitly named mutants are always re-run).

Score = (killed + timeout) / (every mutant that was tried), as mutmut's own badge counts it: a
timeout is a mutant that made the tests loop, which a run would notice. "no tests" (code no core
test calls) and "suspicious" count against the score.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
CORE = Path("src/stocker/core")

# mutmut's exit codes per verdict (mutmut.stats.status_by_exit_code), folded into the columns.
KILLED = {1, 3}
SURVIVED = {0}
TIMEOUT = {36, -24, 24, 152, 255}
NO_TESTS = {5, 33}
SKIPPED = {34, 37}


@dataclass
class Tally:
    """Verdicts of one module's mutants."""

    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)

    def add(self, name: str, exit_code: int | None) -> None:
        if exit_code is None:
            self.counts["not checked"] += 1
        elif exit_code in KILLED:
            self.counts["killed"] += 1
        elif exit_code in SURVIVED:
            self.counts["survived"] += 1
            self.survivors.append(name)
        elif exit_code in TIMEOUT:
            self.counts["timeout"] += 1
        elif exit_code in NO_TESTS:
            self.counts["no tests"] += 1
            self.survivors.append(name)
        elif exit_code in SKIPPED:
            self.counts["skipped"] += 1
        else:
            self.counts["other"] += 1

    @property
    def tried(self) -> int:
        return sum(self.counts.values()) - self.counts["not checked"] - self.counts["skipped"]

    @property
    def score(self) -> float:
        caught = self.counts["killed"] + self.counts["timeout"]
        return 100.0 * caught / self.tried if self.tried else float("nan")


def module_of(meta: Path) -> str:
    """`mutants/src/stocker/core/optimize/hrp.py.meta` -> `optimize.hrp`."""
    relative = meta.relative_to(MUTANTS / CORE).with_suffix("").with_suffix("")
    parts = relative.parts
    if parts[-1] == "__init__":
        parts = parts[:-1] or ("__init__",)
    return ".".join(parts)


def read_results() -> dict[str, Tally]:
    """Every module's verdicts, read from mutmut's `.meta` files."""
    tallies: dict[str, Tally] = {}
    for meta in sorted((MUTANTS / CORE).rglob("*.py.meta")):
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not exit_codes:
            continue
        tally = tallies.setdefault(module_of(meta), Tally())
        for name, exit_code in exit_codes.items():
            tally.add(name, exit_code)
    return tallies


def print_table(tallies: dict[str, Tally], *, survivors: bool) -> Tally:
    """The table per module, worst score first, and the total."""
    columns = ("mutants", "killed", "survived", "timeout", "no tests", "score")
    print(f"{'module':<32}" + "".join(f"{c:>10}" for c in columns))
    total = Tally()
    for module, tally in sorted(tallies.items(), key=lambda item: (item[1].score, item[0])):
        total.counts.update(tally.counts)
        total.survivors.extend(tally.survivors)
        print(_row(module, tally))
    print("-" * (32 + 10 * len(columns)))
    print(_row("total", total))
    if total.counts["not checked"]:
        print(f"({total.counts['not checked']} mutants not checked yet)")
    if survivors:
        print()
        print("\n".join(sorted(total.survivors)))
    return total


def _row(name: str, tally: Tally) -> str:
    c = tally.counts
    figures = (
        sum(c.values()),
        c["killed"],
        c["survived"],
        c["timeout"],
        c["no tests"],
    )
    return f"{name:<32}" + "".join(f"{n:>10,}" for n in figures) + f"{tally.score:>9.1f}%"


# mutmut runs pytest once per mutant in a forked worker, where plugins' per-session work is most
# of the cost: the unraisable/thread-exception plugins' gc.collect() over a heap holding pandas and
# cvxpy took ~85% of a one-test run. Set through the environment (not [tool.mutmut]) so a change
# here does not make mutmut discard every kept verdict.
FAST_PYTEST = (
    "-p no:unraisableexception -p no:threadexception -p no:schemathesis -p no:anyio"
    " -p no:xdist -p no:xdist.looponfail"
)


def run_mutmut(globs: list[str], max_children: int) -> int:
    """Run mutmut from the repository root with the mutation Hypothesis profile."""
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation", "PYTEST_ADDOPTS": FAST_PYTEST}
    command = [str(mutmut), "run", "--max-children", str(max_children), *globs]
    return subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("globs", nargs="*", help='mutant name globs, e.g. "stocker.core.risk*"')
    parser.add_argument("--report", action="store_true", help="print the last results, run nothing")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--min-score", type=float, default=0.0, help="exit 1 below this score")
    args = parser.parse_args()
    if not args.report:
        started = time.monotonic()
        code = run_mutmut(args.globs, args.max_children)
        print(f"mutmut run: exit {code}, {time.monotonic() - started:,.0f} s wall\n")
        if code != 0:
            sys.exit(code)
    total = print_table(read_results(), survivors=args.survivors)
    if total.score < args.min_score:
        sys.exit(1)


if __name__ == "__main__":
    main()
