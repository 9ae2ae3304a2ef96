"""The web app served by a real uvicorn on loopback, over a database with the sample loaded,
driven by Debian's Chromium through Playwright.

One server per test session (the tests are in the xdist group "browser" so `--dist loadgroup`
keeps them on one worker; split across workers each has a server and a database of its own).
The database is cloned from a seeded one built once for the whole run, whatever the number of
workers (the first worker to need it builds it under a file lock; the others clone it): the
20-stock sample, the demo's research (factors, a screened group, a sector-capped portfolio),
two stored backtests, a month of paper trading and two refused bars, so every page has
something to show. Chromium must be installed (`.ci/run` installs it with apt-get): without it
these tests fail, they do not skip.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from stocker.bootstrap import App, build
from stocker.config import Settings

CHROMIUM = Path(os.environ.get("STOCKER_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(
    os.environ.get("STOCKER_TEST_SCREENSHOTS", REPO / "test-results" / "screenshots")
)
"""Where every page's screenshot is written (a folder the tests name; CI keeps test-results/)."""
DAY = dt.date(2022, 12, 28)
"""The sample's last session: the research is as of this day."""
BACKTEST_START = dt.date(2021, 1, 4)
TRADING = (dt.date(1990, 1, 2), dt.date(1990, 1, 31))
"""The paper-trading sessions replayed for the dashboard and the Trade page: the sample's first
month, where a session takes milliseconds (each reads the symbols' history up to it); with a
10-session lookback the strategy trades from the 19th on."""
SCREEN = "sector is not null and momentum is not null order by composite_score desc limit 15"
STRATEGY = (
    '[portfolio]\nid = "trend"\nsymbols = ["AAPL", "KO", "MSFT", "XOM", "JPM", "PG"]\n'
    "[strategy]\nlookback_days = 10\nvol_seed_returns = 5\n"
)


@dataclass(frozen=True)
class Served:
    """The running web app: its URL, the App behind it and an all-scopes API key."""

    url: str
    app: App
    key: str
    runs: tuple[int, int]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


REFUSED_BARS = (
    "symbol,date,open,high,low,close,adj_close,volume\n"
    "AAPL,2022-12-29,127,125,129,128,128,1000\n"  # high below low: to discard
    "KO,2022-12-29,100,101,99,100,100,1000\n"  # +57% over the 28th's close: a jump to accept
)


def _seed(app: App, tmp: Path) -> tuple[int, int]:
    from stocker.data.ingest import fetch_and_ingest
    from stocker.data.sample import load_sample
    from stocker.lab.backtests import run_backtest
    from stocker.lab.demo_research import DEMO_PORTFOLIO, demo_research
    from stocker.sources.base import FetchRequest
    from stocker.trading.days import replay_from_files

    load_sample(app.uow())
    demo_research(app.uow(), day=DAY)
    first = run_backtest(app.uow(), DEMO_PORTFOLIO, start=BACKTEST_START, end=DAY, cost_bps=10)
    second = run_backtest(
        app.uow(), DEMO_PORTFOLIO, start=BACKTEST_START, end=DAY, rebalance="quarterly"
    )
    strategy = tmp / "trend.toml"
    strategy.write_text(STRATEGY)
    replay_from_files(app.uow, [strategy], *TRADING, app.broker)
    refused = tmp / "refused.csv"
    refused.write_text(REFUSED_BARS)
    report = fetch_and_ingest(
        app.uow(), app.source("csv", path=refused), FetchRequest(()), today=app.clock.today()
    )
    assert report.table("prices_daily").quarantined == 2
    return first.id, second.id


def _database_exists(admin: Engine, name: str) -> bool:
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        return found.first() is not None


@contextmanager
def _locked(path: Path) -> Iterator[dict[str, Any]]:
    """The shared seed's record (`path`, JSON) read and written under an exclusive lock."""
    with (path.with_suffix(".lock")).open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            record = json.loads(path.read_text()) if path.exists() else {}
            yield record
            path.write_text(json.dumps(record))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_seed(
    admin: Engine, server_url: str, template: str, redis_url: str, tmp: Path
) -> tuple[str, tuple[int, int]]:
    name = f"stocker_wseed_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    settings = Settings(
        database_url=make_url(server_url).set(database=name).render_as_string(hide_password=False),
        redis_url=redis_url,
        home=tmp / "seed-home",
        stream_prefix=f"ws{uuid.uuid4().hex[:10]}:",
    )
    seeding = build(settings)
    try:
        runs = _seed(seeding, tmp)
    finally:
        seeding.close()  # no connection may stay open on a database others clone
    return name, runs


@pytest.fixture(scope="session")
def seeded_database(
    server_url: str,
    template_database: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, tuple[int, int]]]:
    """(a seeded database to clone, its two backtest run ids), built once for the whole run:
    xdist workers share it through a record in their common temporary folder; the last worker
    done drops it (one that comes later finds it gone and builds it again)."""
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    record_path = shared / "browser-seed.json"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with _locked(record_path) as record:
        if not record.get("database") or not _database_exists(admin, record["database"]):
            name, runs = _build_seed(
                admin, server_url, template_database, redis_url, tmp_path_factory.mktemp("seed")
            )
            record.update(database=name, runs=list(runs), users=0)
        record["users"] += 1
        seeded = (str(record["database"]), (int(record["runs"][0]), int(record["runs"][1])))
    try:
        yield seeded
    finally:
        with _locked(record_path) as record:
            record["users"] -= 1
            if record["users"] <= 0:
                with admin.connect() as conn:
                    conn.execute(
                        text(f'DROP DATABASE IF EXISTS "{record["database"]}" WITH (FORCE)')
                    )
                record.clear()
        admin.dispose()


@pytest.fixture(scope="session")
def served(
    server_url: str,
    seeded_database: tuple[str, tuple[int, int]],
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    from stocker.api.app import create_app
    from stocker.api.auth import create_key

    name = f"stocker_w_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        # The seed is the template: no connection is open on it once built.
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{seeded_database[0]}"'))
    tmp = tmp_path_factory.mktemp("web")
    settings = Settings(
        database_url=make_url(server_url).set(database=name).render_as_string(hide_password=False),
        redis_url=redis_url,
        home=tmp / "home",
        stream_prefix=f"w{uuid.uuid4().hex[:10]}:",
    )
    app = build(settings)
    runs = seeded_database[1]
    key, _ = create_key(app, "browser tests", ["read", "research", "trade", "admin"])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield Served(f"http://127.0.0.1:{port}", app, key, runs)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one test module. Playwright's sync API keeps an event loop running in this
    thread while it is open, and `asyncio.run` refuses to start under it: kept for the whole
    session, it broke every later test of the same worker that runs a loop (the live streams)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; "
        ".ci/run does) or point STOCKER_TEST_CHROMIUM at a Chromium binary"
    )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _publish(screenshot: Path) -> None:
    """Copy a screenshot into docs/screenshots (what the README shows) when asked to."""
    if os.environ.get("STOCKER_TEST_UPDATE_SCREENSHOTS"):
        target = REPO / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, target / screenshot.name)


@pytest.fixture(scope="session")
def publish() -> Callable[[Path], None]:
    """`publish(png)`: copy a screenshot to docs/screenshots with STOCKER_TEST_UPDATE_SCREENSHOTS=1
    (read before the tests clear STOCKER_* variables)."""
    return _publish


@pytest.fixture(scope="session")
def screen_expression() -> str:
    """The screen the pages and the flow run (15 of the sample's 20 stocks on DAY)."""
    return SCREEN


@pytest.fixture(scope="session")
def research_day() -> dt.date:
    return DAY


@pytest.fixture(scope="session")
def page_paths(served: Served) -> dict[str, str]:
    """Screenshot name → path of every page of the web app, each with something to show."""
    with served.app.uow() as uow:
        orders = uow.reads.web.orders(limit=1)
    assert orders, "the fixture's paper trading made no order"
    first, second = served.runs
    return {
        "dashboard": "/",
        "data": "/data",
        "screener": "/screener?" + urlencode({"expression": SCREEN, "date": DAY.isoformat()}),
        "groups": "/groups",
        "group": "/groups/demo_top_composite",
        "builder": "/builder",
        "portfolio": "/builder/demo_screened_minvar",
        "backtests": "/backtests",
        "backtest-report": f"/backtests/{first}",
        "compare": f"/backtests/compare?ids={first}&ids={second}",
        "trade": "/trade",
        "explain": f"/trade/orders/{orders[0]['order_id']}",
        "login": "/login",
    }
