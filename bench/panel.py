"""Panel-read benchmark: `stocker.store.panel.load_panel` against `pandas.read_sql` + `pivot`.

Creates a scratch database `stocker_bench_<random>` on the configured PostgreSQL server
(`STOCKER_DATABASE_URL`, else the embedded server), migrates it, registers the instruments, fills
`prices_daily` with synthetic bars by raw COPY, then measures in one run (best of `--repeat`):

  a. uow.derived.panel("adj_close")        the fast path (per-symbol binary aggregation)
  b. pandas.read_sql(same rows) + pivot    what a user would write instead (the baseline)
  c. binary COPY, one message per row      psycopg `cursor.copy` + numpy, for comparison

    .venv/bin/python bench/panel.py --symbols 2000 --days 5040
    .venv/bin/python bench/panel.py --symbols 100 --days 500      # a quick run

Every method's panel is checked equal to the baseline's. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from psycopg import sql
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from _scratch import scratch_database, server_url
from stocker.store import migrate
from stocker.store.bulk_copy import copy_arrow
from stocker.store.db import make_engine, redacted
from stocker.store.panel import POSTGRES_EPOCH
from stocker.store.uow import SqlUnitOfWork

ACCEPTANCE_RATIO = 5.0
BASELINE_QUERY = "SELECT symbol, date, adj_close::float8 AS adj_close FROM prices_daily"
console = Console(width=None if sys.stdout.isatty() else 130)


@dataclass
class Measurement:
    name: str
    seconds: float
    values: int

    @property
    def values_per_s(self) -> float:
        return self.values / self.seconds if self.seconds > 0 else float("inf")


def synthetic_bars(symbols: list[str], days: int, seed: int) -> pa.Table:
    """Bars for every symbol × `days` sessions: random walks on a 4-decimal grid, valid OHLC."""
    rng = np.random.default_rng(seed)
    sessions = pd.bdate_range("2000-01-03", periods=days).to_numpy().astype("datetime64[D]")
    shape = (len(symbols), days)
    start = rng.uniform(20, 200, size=(len(symbols), 1))
    close = np.clip(start * np.exp(np.cumsum(rng.normal(0, 0.02, shape), axis=1)), 1, 50_000)
    close = close.round(4)
    open_ = np.clip(close * np.exp(rng.normal(0, 0.005, shape)), 1, None).round(4)
    # Rounding a value >= x (resp. <= x) that is already on the 4-decimal grid keeps the order.
    high = (np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, shape))).round(4)
    low = (np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, shape))).round(4)
    count = len(symbols) * days
    return pa.table(
        {
            "symbol": pa.array(np.repeat(np.array(symbols), days)),
            "date": pa.array(np.tile(sessions, len(symbols))),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "adj_close": (close * 0.98).round(4).clip(0.0001).ravel(),
            "volume": rng.integers(10_000, 50_000_000, size=count, dtype=np.int64),
            "source": pa.array(np.full(count, "bench")),
        }
    )


def fill(engine: Engine, symbol_count: int, days: int) -> int:
    """Register instruments and COPY the bars in (the FK is re-added after, validated once)."""
    symbols = [f"S{index:05d}" for index in range(symbol_count)]
    with engine.begin() as conn, conn.connection.driver_connection.cursor() as cursor:
        copy_arrow(cursor, sql.Identifier("instrument_info"), pa.table({"symbol": symbols}))
        foreign_keys = conn.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'prices_daily'::regclass AND contype = 'f'"
            )
        ).fetchall()
        # One validation pass after the load instead of one lookup per row during it.
        for name, _ in foreign_keys:
            conn.execute(text(f'ALTER TABLE prices_daily DROP CONSTRAINT "{name}"'))
        per_chunk = max(1, 200_000 // days)
        for first in range(0, symbol_count, per_chunk):
            chunk = synthetic_bars(symbols[first : first + per_chunk], days, seed=first)
            copy_arrow(cursor, sql.Identifier("prices_daily"), chunk)
        for name, definition in foreign_keys:
            conn.execute(text(f'ALTER TABLE prices_daily ADD CONSTRAINT "{name}" {definition}'))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("VACUUM ANALYZE prices_daily"))
    return symbol_count * days


def fast_path(engine: Engine) -> pd.DataFrame:
    """The panel read every use case makes, through the unit of work."""
    with SqlUnitOfWork(engine) as uow:
        return uow.derived.panel("adj_close")


def read_sql_pivot(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(text(BASELINE_QUERY), conn)
    return frame.pivot(index="date", columns="symbol", values="adj_close")


def copy_rows(engine: Engine) -> pd.DataFrame:
    """Binary COPY of (symbol code, date, value): psycopg yields one buffer per row."""
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        symbols = [row[0] for row in conn.execute(text("SELECT symbol FROM instrument_info"))]
        symbols.sort()
        statement = sql.SQL(
            "COPY (SELECT s.code::int4, p.date, p.adj_close::float8 FROM prices_daily p "
            "JOIN unnest({}::text[]) WITH ORDINALITY AS s(symbol, code) "
            "ON p.symbol = s.symbol) TO STDOUT (FORMAT binary)"
        ).format(sql.Literal(symbols))
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            payload = b"".join(bytes(buffer) for buffer in copy)
    record = np.dtype(
        [
            ("fields", ">i2"),
            ("code_length", ">i4"),
            ("code", ">i4"),
            ("date_length", ">i4"),
            ("day", ">i4"),
            ("value_length", ">i4"),
            ("value", ">f8"),
        ]
    )
    header = 11 + 4 + 4
    count = (len(payload) - header - 2) // record.itemsize
    rows = np.frombuffer(payload, dtype=record, count=count, offset=header)
    days, row_of = np.unique(rows["day"], return_inverse=True)
    matrix = np.full((len(days), len(symbols)), np.nan)
    matrix[row_of, rows["code"] - 1] = rows["value"]
    index = pd.DatetimeIndex(POSTGRES_EPOCH + days.astype(np.int64), name="date").as_unit("ns")
    return pd.DataFrame(matrix, index=index, columns=pd.Index(symbols, name="symbol"))


def best_of(name: str, action: Callable[[], pd.DataFrame], repeat: int, values: int):
    best = float("inf")
    result = None
    for attempt in range(repeat):
        started = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - started
        best = min(best, elapsed)
        console.print(f"  {name}: run {attempt + 1}/{repeat} {elapsed:.2f} s")
    return Measurement(name, best, values), result


def same_panel(fast: pd.DataFrame, baseline: pd.DataFrame) -> bool:
    baseline = baseline.copy()
    baseline.index = pd.DatetimeIndex(pd.to_datetime(baseline.index)).as_unit("ns")
    fast = fast.reindex(columns=baseline.columns)
    return bool(
        fast.index.equals(baseline.index)
        and np.array_equal(fast.to_numpy(), baseline.to_numpy(), equal_nan=True)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--days", type=int, default=5040)
    parser.add_argument("--repeat", type=int, default=3, help="Runs per method (best kept).")
    parser.add_argument(
        "--skip-copy-rows", action="store_true", help="Leave out c (row-per-message COPY)."
    )
    arguments = parser.parse_args()
    server = server_url()
    console.print(f"server: {redacted(server)}")
    with scratch_database(server, "panel") as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            started = time.perf_counter()
            values = fill(engine, arguments.symbols, arguments.days)
            console.print(
                f"filled prices_daily: {values:,} rows in {time.perf_counter() - started:.1f} s"
            )
            fast, fast_panel = best_of(
                "load_panel", lambda: fast_path(engine), arguments.repeat, values
            )
            baseline, baseline_panel = best_of(
                "read_sql + pivot", lambda: read_sql_pivot(engine), arguments.repeat, values
            )
            measurements = [fast, baseline]
            checks = {"load_panel": same_panel(fast_panel, baseline_panel)}
            if not arguments.skip_copy_rows:
                rows, rows_panel = best_of(
                    "binary COPY rows", lambda: copy_rows(engine), arguments.repeat, values
                )
                measurements.append(rows)
                checks["binary COPY rows"] = same_panel(rows_panel, baseline_panel)
        finally:
            engine.dispose()
    table = Table(
        title=f"Panel read: {arguments.symbols:,} symbols × {arguments.days:,} days "
        f"({values:,} values), best of {arguments.repeat}"
    )
    for column in ("method", "seconds", "values/s", "vs read_sql + pivot", "equal to baseline"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for measurement in measurements:
        table.add_row(
            measurement.name,
            f"{measurement.seconds:.2f}",
            f"{measurement.values_per_s:,.0f}",
            f"{baseline.seconds / measurement.seconds:.1f}×",
            "yes" if checks.get(measurement.name, True) else "NO",
        )
    console.print(table)
    ratio = baseline.seconds / fast.seconds
    passed = ratio >= ACCEPTANCE_RATIO and all(checks.values())
    verdict = "PASS" if passed else "FAIL"
    console.print(
        f"acceptance: load_panel ≥ {ACCEPTANCE_RATIO:.0f}× read_sql + pivot, same values → "
        f"{ratio:.1f}× {verdict}"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
