"""End-to-end file ingest against raw COPY of the same file (`bench/ingest.py --e2e-rows N`).

The synthetic bars of `bench/ingest.py` are written as one CSV file (symbol, date, OHLC,
adj_close, volume). Two subprocesses then load it into a scratch database, each measured for
wall-clock time and its own peak RSS (GNU time's `%M`):

  raw COPY: `psql -c "\\copy prices_daily (…) FROM 'file' CSV HEADER"` into an empty table with
            the instruments registered (and a column default for `source`, which the file
            does not name) — no parsing beyond PostgreSQL's, no checks, no events;
  e2e:      `stocker data ingest --source csv --file F --today <last date>` into an empty
            database: the file checked and parsed (formats decided once), every row validated,
            upserted, the rest quarantined, adjusted closes, events for the recent bars — in one
            transaction, in chunks.

Acceptance (issue 7): peak RSS ≤ 1 GiB, e2e rows/s ≥ 50% of raw COPY's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Engine, text

GIB = 1 << 30
E2E_RATIO = 0.50
COLUMNS = ("symbol", "date", "open", "high", "low", "close", "adj_close", "volume")


@dataclass
class Run:
    name: str
    rows: int
    seconds: float
    peak_rss: int
    """Bytes."""

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """The bars as a CSV file with ISO dates, written by Arrow (seconds for millions of rows)."""
    table = pa.Table.from_pandas(frame[list(COLUMNS)], preserve_index=False)
    table = table.set_column(1, "date", table["date"].cast(pa.date32()))
    pa_csv.write_csv(table, path, pa_csv.WriteOptions(quoting_style="none"))


TIME = Path("/usr/bin/time")
PEAK_MARK = "peak-rss-kib="


def measured(name: str, rows: int, command: list[str], env: dict[str, str]) -> Run:
    """Run `command`, returning its wall-clock time and peak RSS; raise if it fails.

    The peak is GNU time's `%M` of the command itself: `ru_maxrss` of a child forked from this
    process would count this process's own pages (the generated bars) as the child's."""
    timed = [str(TIME), "-f", f"{PEAK_MARK}%M", *command] if TIME.exists() else command
    started = time.perf_counter()
    process = subprocess.Popen(timed, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        sys.stderr.write(output)
        raise RuntimeError(f"{name} failed with exit code {process.returncode}")
    lines = output.strip().splitlines()
    peaks = [int(line.split("=", 1)[1]) for line in lines if line.startswith(PEAK_MARK)]
    shown = [line for line in lines if not line.startswith(PEAK_MARK)][-12:]
    print("\n".join(f"    {line}" for line in shown))
    return Run(name, rows, seconds, (peaks[-1] if peaks else usage.ru_maxrss) * 1024)


def end_to_end(engine: Engine, url: str, frame: pd.DataFrame, workdir: Path) -> list[Run]:
    """Raw COPY of the file, then the same file through `stocker data ingest`."""
    path = workdir / "bars.csv"
    write_csv(frame, path)
    rows = len(frame)
    size = path.stat().st_size
    print(f"  file: {path} ({rows:,} rows, {size / 1e6:,.0f} MB)")
    psql_url = url.replace("postgresql+psycopg://", "postgresql://")
    copy = (
        f"\\copy prices_daily ({', '.join(COLUMNS)}) FROM '{path}' WITH (FORMAT csv, HEADER true)"
    )
    env = dict(os.environ)
    with engine.begin() as conn:  # the file names no source; the table requires one
        conn.execute(text("ALTER TABLE prices_daily ALTER COLUMN source SET DEFAULT 'bench'"))
    raw = measured("raw COPY (psql \\copy)", rows, ["psql", psql_url, "-qc", copy], env)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE prices_daily ALTER COLUMN source DROP DEFAULT"))
        conn.execute(text("TRUNCATE prices_daily, instrument_info CASCADE"))
        conn.execute(text("CHECKPOINT"))
    env["STOCKER_DATABASE_URL"] = psql_url
    today = pd.Timestamp(frame["date"].max()).date().isoformat()
    stocker = str(Path(sys.executable).with_name("stocker"))
    command = [stocker, "data", "ingest", "--source", "csv", "--file", str(path), "--today", today]
    e2e = measured("e2e: stocker data ingest", rows, command, env)
    path.unlink()
    return [raw, e2e]


def verdict(runs: list[Run]) -> tuple[str, bool]:
    raw, e2e = runs
    ratio = e2e.rows_per_s / raw.rows_per_s
    ok = ratio >= E2E_RATIO and max(run.peak_rss for run in runs) <= GIB
    return (
        f"e2e at {ratio:.0%} of raw COPY's rows/s (target ≥ {E2E_RATIO:.0%}), peak RSS "
        f"{e2e.peak_rss / 2**20:,.0f} MiB (target ≤ 1,024 MiB): {'PASS' if ok else 'FAIL'}",
        ok,
    )
