"""The web app over plain HTTP: every page answers, pages need a key, CSV exports, no CDN."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests.browser.conftest import Served

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_every_page_answers_with_html_when_the_key_cookie_is_set(
    served: Served, page_paths: dict[str, str]
) -> None:
    with httpx.Client(base_url=served.url, cookies={"stocker_key": served.key}) as client:
        for name, path in page_paths.items():
            response = client.get(path)
            assert response.status_code == 200, (name, response.text[:2000])
            assert "<h1>" in response.text and "Traceback" not in response.text, name
            if name == "screener":
                assert "15 symbols on 2022-12-28" in response.text


def test_pages_without_a_key_redirect_to_the_login_page(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        response = client.get("/backtests")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/backtests&refused=401"
        refused = client.post("/backtests", data={"portfolio": "x", "start": "", "end": ""})
        assert refused.status_code == 303 and "/login" in refused.headers["location"]
    with httpx.Client(base_url=served.url, cookies={"stocker_key": "stk_not_a_key"}) as client:
        wrong = client.get("/trade")
        assert wrong.status_code == 303


def test_login_sets_an_httponly_cookie_and_returns_only_to_this_site(served: Served) -> None:
    with httpx.Client(base_url=served.url) as client:
        response = client.post("/login", data={"key": served.key, "next": "//evil.example/x"})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"stocker_key={served.key};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_tables_export_as_csv(served: Served) -> None:
    first, second = served.runs
    with httpx.Client(base_url=served.url, cookies={"stocker_key": served.key}) as client:
        for path, column in (
            (f"/backtests/{first}/trades.csv", "symbol"),
            (f"/backtests/{first}/holdings.csv", "weight"),
            (f"/backtests/{first}/timeseries.csv", "nav"),
            (f"/backtests/{first}/metrics.csv", "metric"),
            (f"/backtests/compare.csv?ids={first}&ids={second}", f"run {second}"),
            ("/data/coverage.csv", "source"),
            ("/trade/orders.csv", "status"),
            ("/groups/demo_top_composite/members.csv", "symbol"),
        ):
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:500])
            assert response.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(response.text)))
            assert rows and column in rows[0], path
        orders = list(csv.DictReader(io.StringIO(client.get("/trade/orders.csv").text)))
        filled = [row for row in orders if row["status"] == "FILLED"]
        assert filled and all(row["lifecycle"].endswith("→ FILLED") for row in filled)


def test_scripts_are_served_from_this_site_not_a_cdn(served: Served) -> None:
    with httpx.Client(base_url=served.url, cookies={"stocker_key": served.key}) as client:
        page = client.get("/").text
        assert "cdn" not in page.lower() and "https://" not in page
        plotly = client.get("/static/plotly.min.js")
        htmx = client.get("/static/htmx.min.js")
    assert plotly.status_code == 200 and b"plotly" in plotly.content[:2000].lower()
    assert htmx.status_code == 200 and b"htmx 2.0.11" in htmx.content[:300]


def test_bad_input_comes_back_as_the_page_with_the_reason(served: Served) -> None:
    with httpx.Client(base_url=served.url, cookies={"stocker_key": served.key}) as client:
        screen = client.get("/screener", params={"expression": "momentom > 0"})
        assert screen.status_code == 422 and "momentum" in screen.text
        built = client.post(
            "/builder",
            data={
                "code": "too_tight",
                "group": "demo_top_composite",
                "method": "min_variance",
                "max_weight": "0.01",  # twelve members cannot sum to 1 at 1% each
            },
        )
        assert built.status_code == 422 and 'role="alert"' in built.text
        assert "Traceback" not in built.text
        missing = client.get("/backtests/999999")
        assert missing.status_code == 404 and "no run 999999" in missing.text
