"""The web app in Debian's Chromium: every page renders without console errors at 1280 px and
at a phone's width (screenshots of each), login by keyboard, and whole research flows by clicks."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.browser.conftest import Served

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("browser")]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
JOB_SECONDS = 90_000
"""How long a backtest or sweep started from a page may take (ms) on a loaded machine."""
CHARTS_DRAWN = (
    "() => Array.from(document.querySelectorAll('.chart'))"
    ".every(chart => chart.querySelector('.main-svg'))"
)


class Watched:
    """A page with every console error and uncaught exception it raised."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda message: self._console(message))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None and response.ok, (path, response and response.status)
        self.page.wait_for_function(CHARTS_DRAWN)


def _context(browser: Any, served: Served, viewport: dict[str, int], *, key: bool = True) -> Any:
    context = browser.new_context(viewport=viewport, base_url=served.url, accept_downloads=True)
    if key:
        context.add_cookies(
            [
                {
                    "name": "stocker_key",
                    "value": served.key,
                    "url": served.url,
                    "httpOnly": True,
                    "sameSite": "Strict",
                }
            ]
        )
    return context


@pytest.fixture
def desktop(browser: Any, served: Served) -> Iterator[Watched]:
    context = _context(browser, served, DESKTOP)
    yield Watched(context.new_page())
    context.close()


def _shoot(watched: Watched, folder: Path, name: str, *, full_page: bool = True) -> Path:
    path = folder / f"{name}.png"
    watched.page.screenshot(path=str(path), full_page=full_page)
    return path


def test_every_page_renders_without_console_errors_on_a_desktop_and_a_phone(
    browser: Any,
    served: Served,
    page_paths: dict[str, str],
    screenshots: Path,
    publish: Callable[[Path], None],
) -> None:
    for viewport, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        context = _context(browser, served, viewport)
        watched = Watched(context.new_page())
        for name, path in page_paths.items():
            watched.visit(path)
            assert watched.page.locator("h1").count() == 1, name
            overflow = watched.page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 1, f"{name}{suffix} scrolls sideways by {overflow}px"
            shot = _shoot(watched, screenshots, name + suffix, full_page=not suffix)
            if not suffix and name in ("dashboard", "backtest-report"):
                publish(shot)
        context.close()
        assert watched.errors == [], watched.errors


def test_login_by_keyboard_stores_the_key_in_an_httponly_cookie(
    browser: Any, served: Served
) -> None:
    context = _context(browser, served, DESKTOP, key=False)
    watched = Watched(context.new_page())
    page = watched.page

    page.goto("/backtests")
    assert page.url.endswith("/login?next=/backtests&refused=401")
    page.keyboard.type(served.key)  # the key field has the focus
    page.keyboard.press("Enter")
    page.wait_for_url("**/backtests")

    cookie = next(c for c in context.cookies() if c["name"] == "stocker_key")
    assert cookie["httpOnly"] and cookie["value"] == served.key
    assert page.evaluate("() => document.cookie") == ""
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == "/"
    context.close()
    assert watched.errors == []


def _wait_for_run(page: Any) -> int:
    link = page.get_by_role("link", name="Open the report of run").first
    link.wait_for(timeout=JOB_SECONDS)
    return int(link.get_attribute("href").rsplit("/", 1)[1])


def test_screen_save_optimize_backtest_report_compare_and_export_by_clicks(
    desktop: Watched, screenshots: Path, screen_expression: str
) -> None:
    page = desktop.page
    desktop.visit("/screener")
    box = page.locator("#expression")
    box.fill("")
    box.press_sequentially("mom")
    page.locator("#field-suggestions").get_by_role("button", name="momentum").click()
    assert box.input_value() == "momentum "
    box.fill(screen_expression)
    page.get_by_role("button", name="Screen", exact=True).click()
    results = page.locator("#screen-results")
    results.wait_for()
    assert results.locator("tbody tr").count() == 15
    results.get_by_role("button", name="symbol").click()
    symbols = results.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert symbols == sorted(symbols, key=str.lower)
    page.get_by_label("group name").fill("flow_group")
    page.get_by_role("button", name="Save as group").click()
    page.wait_for_url("**/groups/flow_group?saved=1")
    assert page.locator("tbody tr").count() == 15

    page.get_by_role("link", name="Build a portfolio on it").click()
    page.get_by_label("code (new portfolio)").fill("flow_pf")
    page.get_by_label("optimizer").select_option("min_variance")
    page.get_by_label("max weight").fill("0.2")
    page.get_by_label("sector of cap 1").select_option("Health Care")
    page.get_by_label("cap 1", exact=True).fill("0.15")
    page.get_by_role("button", name="Optimize").click()
    page.locator("#constraint-costs").wait_for()
    page.wait_for_function(CHARTS_DRAWN)
    assert "Health Care ≤ 0.15" in page.locator("#constraint-costs").inner_text()
    sectors = {
        row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text()
        for row in page.locator("#sector-table tbody tr").all()
    }
    assert float(sectors["Health Care"].rstrip("%")) <= 15.0  # shown as a percent, 2 decimals
    _shoot(desktop, screenshots, "flow-portfolio")

    page.get_by_role("link", name="Backtest it").click()
    page.get_by_role("button", name="Run backtest").click()
    job = page.locator("#jobs .job").first  # a progress bar polled by HTMX, then the link
    job.wait_for()
    assert "flow_pf 2021-01-04..2022-12-28 monthly" in job.inner_text()
    first = _wait_for_run(page)
    page.get_by_role("link", name="Open the report of run").first.click()
    page.wait_for_url(f"**/backtests/{first}")
    page.wait_for_function(CHARTS_DRAWN)
    assert page.locator("#trades-table tbody tr").count() > 1
    assert page.locator("#trades-chart .scatterlayer .point").count() > 0
    _shoot(desktop, screenshots, "flow-report")

    desktop.visit("/backtests?portfolio=flow_pf")
    page.get_by_label("rebalance").first.select_option("quarterly")
    page.get_by_label("costs (bps)").fill("0")
    page.get_by_role("button", name="Run backtest").click()
    second = _wait_for_run(page)
    desktop.visit("/backtests")
    page.get_by_label(f"compare run {first}", exact=True).check()
    page.get_by_label(f"compare run {second}", exact=True).check()
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/backtests/compare?*")
    page.wait_for_function(CHARTS_DRAWN)
    _shoot(desktop, screenshots, "flow-compare")

    with page.expect_download() as download:
        page.locator("#compare-table").get_by_role("link", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {"metric", f"run {first}", f"run {second}"} <= set(rows[0])
    assert "sharpe" in {row["metric"] for row in rows}
    assert desktop.errors == []


def test_a_sweep_started_from_the_page_shows_a_heatmap(desktop: Watched, screenshots: Path) -> None:
    page = desktop.page
    desktop.visit("/backtests?portfolio=demo_screened_minvar")
    form = page.locator("form[action='/backtests/sweep']")
    form.locator("input[name=start]").fill("2022-01-03")
    form.locator("input[name=x_values]").fill("0,25")
    form.locator("input[name=y_values]").fill("monthly,quarterly")
    form.get_by_role("button", name="Run sweep").click()
    link = page.get_by_role("link", name="Open the heatmap")
    link.wait_for(timeout=JOB_SECONDS)
    link.click()
    page.wait_for_function(CHARTS_DRAWN)
    assert page.locator("#sweep-chart .heatmaplayer").count() == 1
    assert page.locator("#sweep-table tbody tr").count() == 4
    _shoot(desktop, screenshots, "sweep")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == 4 and {row["status"] for row in rows} == {"COMPLETED"}
    assert {(row["cost_bps"], row["rebalance"]) for row in rows} == {
        ("0.0", "monthly"), ("0.0", "quarterly"), ("25.0", "monthly"), ("25.0", "quarterly"),
    }  # fmt: skip
    assert desktop.errors == []


def test_quarantined_rows_are_discarded_and_released_by_clicks(
    desktop: Watched, screenshots: Path
) -> None:
    page = desktop.page
    desktop.visit("/data")
    rows = page.locator("form[action='/data/quarantine'] tbody tr")
    bad = rows.filter(has_text="high_below_low")
    jump = rows.filter(has_text="price_jump")
    assert bad.count() == 1 and jump.count() == 1
    _shoot(desktop, screenshots, "data-quarantine")

    bad.get_by_role("checkbox").check()
    page.get_by_label("note (required to discard)").fill("bad feed: high below low")
    page.get_by_role("button", name="Discard").click()
    assert page.get_by_role("status").inner_text() == "discarded 1 row(s)"

    rows.filter(has_text="price_jump").get_by_role("checkbox").check()
    page.get_by_role("button", name="Release").click()
    assert "still quarantined" in page.get_by_role("status").inner_text()
    rows.filter(has_text="price_jump").get_by_role("checkbox").check()
    page.get_by_label("accept a price jump").check()
    page.get_by_role("button", name="Release").click()
    assert page.get_by_role("status").inner_text() == "released 1 row(s)"
    assert rows.filter(has_text="price_jump").count() == 0

    desktop.visit("/data?status=ALL")
    assert rows.filter(has_text="DISCARDED").count() == 1
    assert rows.filter(has_text="RELEASED").count() == 1
    assert desktop.errors == []


def test_the_halt_switch_stops_and_resumes_a_portfolio(desktop: Watched, served: Served) -> None:
    page = desktop.page
    desktop.visit("/")
    page.get_by_label("why halt trend").fill("broker outage")
    page.get_by_role("button", name="Halt trend").click()
    assert page.get_by_role("status").inner_text() == "trend halted"
    with served.app.uow() as uow:
        assert uow.live_trading.halt_reason("trend") == "broker outage"
    page.get_by_role("button", name="Resume trading trend").click()
    assert page.get_by_role("status").inner_text() == "trend may trade again"
    with served.app.uow() as uow:
        assert uow.live_trading.halt_reason("trend") is None
    assert desktop.errors == []
