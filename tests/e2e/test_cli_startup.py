"""The CLI starts instantly: `--help` never imports the database, Redis, pandas or vendor SDKs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

STOCKER = Path(sys.executable).with_name("stocker")
HEAVY_MODULES = ("sqlalchemy", "pandas", "numpy", "scipy", "redis", "httpx", "alpaca", "alembic")
LIMIT_S = 1.0
RUNS = 3


def _best_time_s(arguments: list[str]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        result = subprocess.run(
            [str(STOCKER), *arguments], capture_output=True, text=True, timeout=60, check=False
        )
        best = min(best, time.perf_counter() - started)
        assert result.returncode == 0, result.stderr
    return best


@pytest.mark.parametrize("arguments", [["--help"], ["data", "ingest", "--help"], ["db", "--help"]])
def test_help_when_run_in_a_fresh_process_answers_within_one_second(arguments: list[str]) -> None:
    elapsed_s = _best_time_s(arguments)

    print(f"stocker {' '.join(arguments)}: {elapsed_s:.3f} s (best of {RUNS})")
    assert elapsed_s < LIMIT_S, f"stocker {' '.join(arguments)} took {elapsed_s:.2f} s"


def test_cli_when_imported_loads_no_heavy_module() -> None:
    probe = (
        "import sys, stocker.cli; "
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "", f"imported at start-up: {result.stdout.strip()}"
