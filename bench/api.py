"""API benchmark: latency percentiles and throughput of the main read endpoints and the screener
over HTTP, under concurrent load from a second process on loopback, next to the same SQL run
directly against PostgreSQL.

    .venv/bin/python bench/api.py                                   # 5,000 symbols (acceptance)
    .venv/bin/python bench/api.py --symbols 300 --seconds 3         # quick

Steps: a scratch database with a synthetic market of `--symbols` stocks over one year (prices
and fundamentals), factor exposures and the risk model computed on the last day, an API key with
the read scope. `stocker serve`'s application then runs in its own process (uvicorn, `--workers`
server processes, 1 by default, access log off), and a load process runs `--clients` concurrent
keep-alive clients for `--seconds` per endpoint, each request authenticated with the key:

  GET  /api/v1/instruments?limit=100                 first page of the instrument master
  GET  /api/v1/prices?symbol=S&limit=250             one symbol's year of daily bars
  GET  /api/v1/factors?date=D&limit=100              first page of the day's factor exposures
  POST /api/v1/screener/run                          the screen below over every symbol

For each, the baseline ("SQL") is the very statement the read model sent (captured from the
engine while the use case ran once), replayed by the same kind of load process with the same
number of clients over raw psycopg connections: what a user querying PostgreSQL directly would
get, with no HTTP, auth, JSON or pandas. With `wrk` installed (Debian: `apt-get install wrk`),
the GET endpoints are also loaded by wrk (its p50/p99; a C client costs less than Python's).

The scratch database is created on `STOCKER_DATABASE_URL` (else the embedded server) and dropped
at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 150)
SCREEN = "pe < 25 and roe > 0.05 order by composite_score desc limit 30"
SEED = 7


@dataclass
class Result:
    """One load run: per-request latencies (seconds) and the wall time they fit in."""

    latencies: list[float]
    errors: int
    seconds: float
    fixed: dict[float, float] | None = None
    """Percentiles a client reported itself (wrk), instead of latencies."""

    def percentile(self, share: float) -> float:
        if self.fixed is not None:
            return self.fixed.get(share, float("nan"))
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)


# -- the load process ---------------------------------------------------------------------------


def _load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run `clients` threads for `seconds`; each repeats one request (HTTP or SQL)."""
    window: list[float] = []
    ready = threading.Barrier(spec["clients"], action=lambda: window.append(time.perf_counter()))
    latencies: list[list[float]] = [[] for _ in range(spec["clients"])]
    errors = [0] * spec["clients"]

    def client(number: int) -> None:
        send = _sender(spec)
        send()  # connect and warm up outside the measurement
        ready.wait()
        stop = window[0] + spec["seconds"]
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                send()
            except Exception:
                errors[number] += 1
                continue
            latencies[number].append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(spec["clients"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    began = window[0]
    return {
        "latencies": [value for each in latencies for value in each],
        "errors": sum(errors),
        "seconds": time.perf_counter() - began,
    }


def _sender(spec: dict[str, Any]) -> Callable[[], None]:
    if spec["kind"] == "http":
        import httpx

        http = httpx.Client(base_url=spec["base"], headers={"X-API-Key": spec["key"]}, timeout=60)

        def get() -> None:
            if spec["method"] == "GET":
                answer = http.get(spec["path"])
            else:
                answer = http.post(spec["path"], json=spec["body"])
            if answer.status_code != 200:
                raise RuntimeError(answer.status_code)
            answer.read()

        return get
    import psycopg

    conn = psycopg.connect(spec["dsn"], autocommit=True)

    def query() -> None:
        with conn.cursor() as cursor:
            cursor.execute(spec["sql"], spec["params"])
            cursor.fetchall()

    return query


def run_load(spec: dict[str, Any]) -> Result:
    """`_load` in a second process (this script with `--load`), the spec as JSON on stdin."""
    done = subprocess.run(
        [sys.executable, __file__, "--load"],
        input=json.dumps(spec, default=str),
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)
    return Result(found["latencies"], found["errors"], found["seconds"])


# -- the server process -------------------------------------------------------------------------

SERVER = """
import os, sys, uvicorn
os.environ["STOCKER_DATABASE_URL"], os.environ["STOCKER_HOME"] = sys.argv[1], sys.argv[3]
uvicorn.run("stocker.api.app:from_environment", factory=True, workers=int(sys.argv[4]),
            host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(url: str, workers: int) -> Any:
    """The API in its own process on a free loopback port; yields its base URL."""
    import httpx

    port = _free_port()
    home = tempfile.mkdtemp(prefix="stocker-bench-api-")
    process = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port), home, str(workers)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the API server did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(home, ignore_errors=True)


# -- wrk ----------------------------------------------------------------------------------------


def run_wrk(base: str, path: str, key: str, clients: int, seconds: float) -> Result | None:
    """wrk's p50 / p99 and requests/s for a GET (None when wrk is not installed)."""
    if shutil.which("wrk") is None:
        return None
    done = subprocess.run(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{max(1, int(seconds))}s", "--latency",
         "-H", f"X-API-Key: {key}", base + path],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found: dict[str, float] = {}
    if os.environ.get("BENCH_WRK_OUTPUT"):
        console.print(done.stdout, markup=False)
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            found[parts[0]] = _wrk_seconds(parts[1])
        if line.startswith("Requests/sec:"):
            found["rate"] = float(parts[1])
        if "Non-2xx" in line:
            found["errors"] = float(parts[-1])
    rate = found.get("rate", 0.0)
    fixed = {0.50: found.get("50%", float("nan")), 0.99: found.get("99%", float("nan"))}
    return Result([0.0] * round(rate * seconds), int(found.get("errors", 0)), seconds, fixed)


def _wrk_seconds(text: str) -> float:
    for suffix, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * scale
    return float(text)


# -- setup and the table ------------------------------------------------------------------------


def prepare(url: str, symbols: int) -> tuple[date, str, str, dict[str, tuple[str, Any]]]:
    """Load the market, compute factors and risk, make a key; capture each read's SQL."""
    from sqlalchemy import event

    from stocker.api.auth import create_key
    from stocker.bootstrap import build
    from stocker.config import Settings
    from stocker.data.synthetic import load_synthetic_market
    from stocker.lab.factors import compute_factors
    from stocker.lab.risk import compute_risk
    from stocker.lab.screener import screen
    from stocker.store import migrate

    app = build(Settings(database_url=url, home=Path(tempfile.mkdtemp(prefix="stocker-bench-"))))
    migrate.upgrade(app.engine)
    began = time.perf_counter()
    report = load_synthetic_market(app.uow(), symbols=symbols, years=1, seed=SEED)
    day = report.last_date
    compute_factors(app.uow(), day=day)
    compute_risk(app.uow(), day=day, benchmark=None)
    console.print(
        f"  market of {symbols} symbols, factors, risk: {time.perf_counter() - began:.0f} s"
    )
    key, _ = create_key(app, "bench", ["read"])
    with app.uow() as uow:
        symbol = uow.reads.page("instruments", {}, limit=1).items[0]["symbol"]
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        captured.append((statement, parameters))

    event.listen(app.engine, "before_cursor_execute", capture)
    statements: dict[str, tuple[str, Any]] = {}
    reads = {
        "instruments": ("instruments", {}, 100),
        "prices": ("prices", {"symbol": symbol}, 250),
        "factors": ("factors", {"date": day}, 100),
    }
    for name, (listing, filters, limit) in reads.items():
        captured.clear()
        with app.uow() as uow:
            uow.reads.page(listing, filters, limit=limit)
        statements[name] = max(captured, key=lambda found: len(found[0]))
    captured.clear()
    screen(app.uow(), SCREEN, day=day)
    statements["screener"] = max(captured, key=lambda found: len(found[0]))
    event.remove(app.engine, "before_cursor_execute", capture)
    app.close()
    return day, symbol, key, statements


def render(
    rows: list[tuple[str, str, Result | None]], clients: int, symbols: int, workers: int
) -> None:
    table = Table(
        title=f"API ({workers} server process{'es' if workers > 1 else ''}) vs direct SQL, "
        f"{symbols:,} symbols, {clients} concurrent clients (latency ms; rate requests/s)"
    )
    for column in ("endpoint", "client", "p50", "p95", "p99", "req/s", "errors", "requests"):
        table.add_column(column, justify="left" if column in ("endpoint", "client") else "right")
    for endpoint, client, result in rows:
        if result is None:
            table.add_row(endpoint, client, "not available", "", "", "", "", "")
            continue
        wrk = "wrk" in client
        table.add_row(
            endpoint,
            client,
            f"{result.percentile(0.50) * 1e3:.1f}",
            "" if wrk else f"{result.percentile(0.95) * 1e3:.1f}",
            f"{result.percentile(0.99) * 1e3:.1f}",
            f"{result.rate:,.0f}",
            str(result.errors),
            f"{result.count:,}",
        )
    console.print(table)


def _median_ratio(http: Result | None, sql: Result | None) -> str:
    if not http or not sql or not http.latencies or not sql.latencies:
        return "n/a"
    return f"{statistics.median(http.latencies) / statistics.median(sql.latencies):.1f}×"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=8.0, help="load per row")
    parser.add_argument("--workers", type=int, default=1, help="API server processes")
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.load:
        print(json.dumps(_load(json.loads(sys.stdin.read()))))
        return 0

    sys.path.insert(0, str(Path(__file__).parent))
    from _scratch import scratch_database, server_url

    with scratch_database(server_url(), "api") as url:
        day, symbol, key, statements = prepare(url, arguments.symbols)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        endpoints = {
            "instruments": ("GET", "/api/v1/instruments?limit=100", None),
            "prices": ("GET", f"/api/v1/prices?symbol={symbol}&limit=250", None),
            "factors": ("GET", f"/api/v1/factors?date={day}&limit=100", None),
            "screener": ("POST", "/api/v1/screener/run", {"expression": SCREEN, "date": day}),
        }
        common = {"clients": arguments.clients, "seconds": arguments.seconds}
        rows: list[tuple[str, str, Result | None]] = []
        with serving(url, arguments.workers) as base:
            for name, (method, path, body) in endpoints.items():
                label = f"{method} {path.split('?')[0]}"
                console.print(f"  loading {label} ...")
                http = run_load({**common, "kind": "http", "base": base, "key": key,
                                 "method": method, "path": path, "body": body})  # fmt: skip
                sql, params = statements[name]
                direct = run_load({**common, "kind": "sql", "dsn": dsn, "sql": sql,
                                   "params": params})  # fmt: skip
                rows += [(label, "HTTP (httpx)", http), ("", "SQL (psycopg)", direct)]
                if method == "GET":
                    rows.append(("", "HTTP (wrk)", run_wrk(
                        base, path, key, arguments.clients, arguments.seconds)))  # fmt: skip
    render(rows, arguments.clients, arguments.symbols, arguments.workers)
    ratios = [
        f"{rows[i][0]}: {_median_ratio(rows[i][2], rows[i + 1][2])}"
        for i in range(len(rows))
        if rows[i][1] == "HTTP (httpx)"
    ]
    console.print("HTTP p50 / SQL p50: " + "; ".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
