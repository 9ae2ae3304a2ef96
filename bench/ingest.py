"""Ingest benchmark: `stocker.store.bulk.upsert` against raw COPY and pandas `to_sql`.

Creates a scratch database `stocker_bench_ingest_<random>` on the configured PostgreSQL server
(`STOCKER_DATABASE_URL`, else the embedded server), migrates it, registers the instruments,
generates synthetic daily bars (numpy, valid OHLC) and measures in one run:

  a. raw COPY of the bars DataFrame into an empty prices_daily (the baseline)
  b. upsert fresh load of the same DataFrame into an empty prices_daily
     (a and b alternate over `--repeat` rounds, a-b, b-a, a-b; each keeps its best time)
  c. upsert no-op reload of the same rows (must report 0 inserted / 0 updated)
  d. upsert reload with 1% of the rows changed
  e. DataFrame.to_sql(method="multi") of a sample, scaled to rows/s

    .venv/bin/python bench/ingest.py --symbols 2000 --days 5040
    .venv/bin/python bench/ingest.py --symbols 50 --days 500      # a quick run
    .venv/bin/python bench/ingest.py --e2e-rows 2000000           # file end to end (ingest_file)

See bench/README.md for what each row measures. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from psycopg import sql
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, text

from _scratch import scratch_database, server_url
from stocker.store import migrate
from stocker.store.bulk_copy import copy_arrow
from stocker.store.db import make_engine, redacted
from stocker.store.uow import SqlUnitOfWork

ACCEPTANCE_RATIO = 0.80
console = Console(width=None if sys.stdout.isatty() else 130)


@dataclass
class Measurement:
    name: str
    rows: int
    seconds: float
    note: str = ""

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


class CopyMonitor:
    """Shows server-side COPY progress (pg_stat_progress_copy) of this database in a bar.

    The client hands rows to a queue far faster than the server stores them, so counting on the
    client side would show 100% long before the end; the server's own count does not.
    """

    def __init__(self, engine: Engine, label: str, total: int) -> None:
        self.engine = engine
        self.label = label
        self.total = total
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.poll, daemon=True)
        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task(label, total=total)

    def poll(self) -> None:
        query = text(
            "SELECT c.relname, p.tuples_processed FROM pg_stat_progress_copy p "
            "JOIN pg_class c ON c.oid = p.relid WHERE p.datname = current_database()"
        )
        with self.engine.connect() as conn:
            while not self.stop.wait(0.5):
                row = conn.execute(query).first()
                conn.rollback()
                if row is None:
                    self.progress.update(self.task, description=f"{self.label}: working")
                    continue
                relation, processed = row
                where = "staging" if relation.startswith("stocker_stage_") else relation
                self.progress.update(
                    self.task, completed=processed, description=f"{self.label}: COPY into {where}"
                )

    def __enter__(self) -> CopyMonitor:
        self.progress.start()
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join()
        self.progress.stop()


def synthetic_bars(symbols: int, days: int, seed: int = 7) -> pd.DataFrame:
    """Daily bars for `symbols` × `days` sessions: geometric random walks with valid OHLC."""
    rng = np.random.default_rng(seed)
    names = np.array([f"SYM{index:05d}" for index in range(symbols)])
    sessions = pd.bdate_range("2000-01-03", periods=days).to_numpy()
    log_returns = rng.normal(0.0002, 0.02, size=(symbols, days))
    start = rng.uniform(20, 200, size=(symbols, 1))
    close = np.clip(start * np.exp(np.cumsum(log_returns, axis=1)), 1.0, 50_000.0).round(4)
    open_ = np.clip(close * np.exp(rng.normal(0, 0.005, size=close.shape)), 1.0, None).round(4)
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    # Rounding a value >= x (resp. <= x) that is already on the 4-decimal grid keeps the order.
    high = (top * (1 + rng.uniform(0, 0.02, size=close.shape))).round(4)
    low = (bottom * (1 - rng.uniform(0, 0.02, size=close.shape))).round(4)
    volume = rng.integers(10_000, 50_000_000, size=close.shape, dtype=np.int64)
    return pd.DataFrame(
        {
            "symbol": pd.array(np.repeat(names, days), dtype="str"),
            "date": np.tile(sessions, symbols),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "adj_close": close.ravel(),
            "volume": volume.ravel(),
            "source": pd.array(np.full(symbols * days, "bench"), dtype="str"),
        }
    )


def changed_copy(frame: pd.DataFrame, fraction: float, seed: int = 11) -> tuple[pd.DataFrame, int]:
    """`frame` with `fraction` of its rows given a new volume and adjusted close."""
    rng = np.random.default_rng(seed)
    count = max(1, round(len(frame) * fraction))
    rows = rng.choice(len(frame), size=count, replace=False)
    changed = frame.copy()
    volume = changed["volume"].to_numpy().copy()
    volume[rows] += 1
    adjusted = changed["adj_close"].to_numpy().copy()
    adjusted[rows] = (adjusted[rows] * 0.999).round(4)
    changed["volume"] = volume
    changed["adj_close"] = adjusted
    return changed, count


def raw_copy(engine: Engine, frame: pd.DataFrame) -> None:
    """The baseline: the DataFrame straight to Arrow, CSV and COPY, no checks at all."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(
        table.column_names.index("date"), "date", table["date"].cast(pa.date32())
    )
    with engine.begin() as conn, conn.connection.driver_connection.cursor() as cursor:
        copy_arrow(cursor, sql.Identifier("prices_daily"), table)


def truncate_prices(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE prices_daily RESTART IDENTITY"))
        conn.execute(text("CHECKPOINT"))


def timed(
    label: str, action: Callable[[], object], engine: Engine | None = None, rows: int = 0
) -> tuple[float, object]:
    """Run `action`, print and return its wall-clock seconds (with a COPY progress bar)."""
    monitor = CopyMonitor(engine, label, rows) if engine is not None else None
    with monitor if monitor is not None else console.status(f"[bold]{label}…"):
        started = time.perf_counter()
        outcome = action()
        elapsed = time.perf_counter() - started
    console.print(f"  {label}: {elapsed:,.1f} s")
    return elapsed, outcome


def register_instruments(engine: Engine, frame: pd.DataFrame) -> None:
    symbols = pd.unique(frame["symbol"])
    instruments = pd.DataFrame({"symbol": symbols, "name": symbols, "exchange": "NYSE"})
    with SqlUnitOfWork(engine) as uow:
        uow.derived.upsert("instrument_info", instruments)
        uow.commit()


def run_e2e(rows: int, symbols: int) -> int:
    """The end-to-end row: `rows` bars as a CSV file, raw COPY vs `stocker data ingest`."""
    import tempfile
    from pathlib import Path

    from ingest_file import end_to_end, verdict

    days = max(1, rows // symbols)
    server = server_url()
    console.print(f"server: {redacted(server)}")
    with scratch_database(server, "e2e") as url, tempfile.TemporaryDirectory() as workdir:
        engine = make_engine(url)
        try:
            with console.status("[bold]migrating the scratch database…"):
                migrate.upgrade(engine)
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar_one()
            _, frame = timed(
                f"generating {symbols:,} × {days:,} bars", lambda: synthetic_bars(symbols, days)
            )
            assert isinstance(frame, pd.DataFrame)
            register_instruments(engine, frame)
            runs = end_to_end(engine, url, frame, Path(workdir))
        finally:
            engine.dispose()
    baseline = runs[0].rows_per_s
    table = Table(title=f"A CSV file of {len(frame):,} daily bars, PostgreSQL {version}")
    for column in ("measurement", "rows", "seconds", "rows/s", "vs raw COPY", "peak RSS"):
        table.add_column(column, justify="left" if column == "measurement" else "right")
    for item in runs:
        table.add_row(
            item.name,
            f"{item.rows:,}",
            f"{item.seconds:,.1f}",
            f"{item.rows_per_s:,.0f}",
            f"{item.rows_per_s / baseline:.2f}",
            f"{item.peak_rss / 2**20:,.0f} MiB",
        )
    console.print(table)
    text_verdict, ok = verdict(runs)
    console.print(text_verdict)
    return 0 if ok else 1


def run(symbols: int, days: int, sample_rows: int, repeat: int) -> int:
    server = server_url()
    console.print(f"server: {redacted(server)}")
    with scratch_database(server, "ingest") as url:
        engine = make_engine(url)
        try:
            return measure(engine, symbols, days, sample_rows, repeat)
        finally:
            engine.dispose()


def measure(engine: Engine, symbols: int, days: int, sample_rows: int, repeat: int) -> int:
    with console.status("[bold]migrating the scratch database…"):
        migrate.upgrade(engine)
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
    _, frame = timed(
        f"generating {symbols:,} × {days:,} bars", lambda: synthetic_bars(symbols, days)
    )
    assert isinstance(frame, pd.DataFrame)
    rows = len(frame)
    register_instruments(engine, frame)

    def load(bars: pd.DataFrame) -> Callable[[], object]:
        def action() -> object:
            with SqlUnitOfWork(engine) as uow:
                result = uow.derived.upsert("prices_daily", bars)
                uow.commit()
            return result

        return action

    # a and b alternate and each keeps its best time, so a burst of load from other processes
    # on a shared machine does not decide the ratio.
    raw_times: list[float] = []
    fresh_times: list[float] = []
    fresh: object = None
    for round_number in range(1, repeat + 1):
        suffix = f" (round {round_number}/{repeat})" if repeat > 1 else ""
        # a-b, b-a, a-b, …: neither always runs first after the other's load and checkpoint.
        order = ("a", "b") if round_number % 2 else ("b", "a")
        for which in order:
            truncate_prices(engine)
            if which == "a":
                seconds, _ = timed(
                    "a. raw COPY" + suffix, lambda: raw_copy(engine, frame), engine, rows
                )
                raw_times.append(seconds)
            else:
                seconds, fresh = timed("b. upsert fresh load" + suffix, load(frame), engine, rows)
                fresh_times.append(seconds)
    if order[-1] == "a":
        truncate_prices(engine)  # c and d reload what upsert loaded
        load(frame)()
    results = [
        Measurement("a. raw COPY (baseline)", rows, min(raw_times), best_of(raw_times)),
        Measurement(
            "b. upsert fresh load",
            rows,
            min(fresh_times),
            f"{fresh.inserted:,} inserted; {best_of(fresh_times)}",  # type: ignore[attr-defined]
        ),
    ]

    seconds, reload = timed("c. upsert no-op reload", load(frame), engine, rows)
    results.append(
        Measurement(
            "c. upsert no-op reload",
            rows,
            seconds,
            f"{reload.inserted:,} inserted, {reload.updated:,} updated",  # type: ignore[attr-defined]
        )
    )

    changed, changed_rows = changed_copy(frame, 0.01)
    seconds, partial = timed("d. upsert 1% changed reload", load(changed), engine, rows)
    results.append(
        Measurement(
            "d. upsert 1% changed reload",
            rows,
            seconds,
            f"{partial.inserted:,} inserted, {partial.updated:,} updated "  # type: ignore[attr-defined]
            f"({changed_rows:,} changed)",
        )
    )

    truncate_prices(engine)
    sample = frame.iloc[: min(sample_rows, rows)]

    def to_sql() -> object:
        with engine.begin() as conn:
            return sample.to_sql(
                "prices_daily",
                conn,
                if_exists="append",
                index=False,
                method="multi",
                chunksize=5_000,
            )

    seconds, _ = timed(f"e. to_sql(method='multi'), {len(sample):,} rows", to_sql)
    results.append(
        Measurement("e. pandas to_sql(method='multi')", len(sample), seconds, "sample, scaled")
    )

    report(results, symbols, days, version)
    ratio = results[1].rows_per_s / results[0].rows_per_s
    noop_ok = reload.inserted == 0 and reload.updated == 0  # type: ignore[attr-defined]
    changed_ok = partial.updated == changed_rows and partial.inserted == 0  # type: ignore[attr-defined]
    verdict = "PASS" if ratio >= ACCEPTANCE_RATIO else "FAIL"
    console.print(
        f"fresh-load throughput = {ratio:.1%} of raw COPY (acceptance ≥ {ACCEPTANCE_RATIO:.0%}): "
        f"{verdict}; no-op reload 0/0: {'yes' if noop_ok else 'NO'}; "
        f"1% reload updated exactly the changed rows: {'yes' if changed_ok else 'NO'}"
    )
    return 0 if ratio >= ACCEPTANCE_RATIO and noop_ok and changed_ok else 1


def best_of(times: list[float]) -> str:
    if len(times) == 1:
        return ""
    return "best of " + ", ".join(f"{seconds:,.1f}" for seconds in times) + " s"


def report(results: list[Measurement], symbols: int, days: int, version: str) -> None:
    baseline = results[0].rows_per_s
    table = Table(
        title=f"Ingest into prices_daily: {symbols:,} symbols × {days:,} days, PostgreSQL {version}"
    )
    table.add_column("measurement")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("vs raw COPY", justify="right")
    table.add_column("outcome")
    for result in results:
        table.add_row(
            result.name,
            f"{result.rows:,}",
            f"{result.seconds:,.1f}",
            f"{result.rows_per_s:,.0f}",
            f"{result.rows_per_s / baseline:.2f}",
            result.note,
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--days", type=int, default=5040)
    parser.add_argument("--sample-rows", type=int, default=100_000, help="rows for to_sql")
    parser.add_argument(
        "--repeat", type=int, default=3, help="alternating rounds of a and b; the best counts"
    )
    parser.add_argument(
        "--e2e-rows",
        type=int,
        default=0,
        help="instead: that many bars as a CSV file, raw COPY vs `stocker data ingest`",
    )
    arguments = parser.parse_args()
    if arguments.e2e_rows:
        sys.exit(run_e2e(arguments.e2e_rows, arguments.symbols))
    sys.exit(run(arguments.symbols, arguments.days, arguments.sample_rows, arguments.repeat))


if __name__ == "__main__":
    main()
