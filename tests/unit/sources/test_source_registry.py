"""Choosing a source by name."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from vendor_loopback import VENDOR_FIXTURES

from stocker.config import Credentials
from stocker.core.errors import SourceError
from stocker.sources.base import LiveBarFeed, Source
from stocker.sources.registry import SOURCE_NAMES, get_live_feed, get_source


def test_registry_names_the_six_sources() -> None:
    assert SOURCE_NAMES == ("yfinance", "alpaca", "kite", "csv", "parquet", "screener-in")


def test_get_source_when_name_is_unknown_lists_the_valid_names() -> None:
    with pytest.raises(SourceError, match="unknown source 'polygon'; valid names: yfinance, "):
        get_source("polygon")


@pytest.mark.parametrize(
    ("name", "options", "expected_name"),
    [
        ("yfinance", {"fundamentals": False}, "yfinance"),
        ("Yahoo", {}, "yfinance"),
        ("csv", {"path": VENDOR_FIXTURES / "files" / "corporate_actions.csv"}, "csv"),
        ("parquet", {"path": "bars.parquet"}, "parquet"),
        (
            "screener_in",
            {"path": VENDOR_FIXTURES / "screener_in" / "screen_export.csv", "as_of": "2024-06-28"},
            "screener-in",
        ),
    ],
)
def test_get_source_builds_a_source_with_its_name(
    name: str, options: dict[str, object], expected_name: str
) -> None:
    source = get_source(name, **options)

    assert isinstance(source, Source)
    assert source.name == expected_name


def test_get_source_parses_as_of_given_as_text() -> None:
    source = get_source(
        "screener-in",
        path=VENDOR_FIXTURES / "screener_in" / "screen_export.csv",
        as_of="2024-06-28",
    )

    assert source.as_of == date(2024, 6, 28)  # type: ignore[attr-defined]


def test_get_source_when_an_option_is_unknown_lists_the_accepted_ones(tmp_path: Path) -> None:
    with pytest.raises(
        SourceError, match=r"'csv' does not take option\(s\) colour; it takes: path"
    ):
        get_source("csv", path=tmp_path / "x.csv", colour="red")


def test_get_source_when_a_required_option_is_missing_names_it() -> None:
    with pytest.raises(SourceError, match=r"'csv' needs option\(s\) path"):
        get_source("csv")


def test_get_source_for_a_vendor_without_keys_names_the_settings() -> None:
    with pytest.raises(SourceError, match="set STOCKER_KITE_API_KEY and STOCKER_KITE_ACCESS_TOKEN"):
        get_source("kite", credentials=lambda vendor: None)


def test_get_source_hands_a_vendor_the_credentials_asked_for_by_its_name() -> None:
    asked: list[str] = []

    def credentials(vendor: str) -> Credentials:
        asked.append(vendor)
        return Credentials("PKREGISTRYKEY", "registry-secret")

    source = get_source("zerodha", credentials=credentials, root="http://127.0.0.1:9")

    assert asked == ["kite"]
    assert source._kite.api_key == "PKREGISTRYKEY"  # type: ignore[attr-defined]
    assert source._kite.access_token == "registry-secret"  # type: ignore[attr-defined]


def test_get_source_for_a_keyless_source_never_asks_for_credentials(tmp_path: Path) -> None:
    def credentials(vendor: str) -> Credentials:
        raise AssertionError(f"asked for {vendor}")

    source = get_source("csv", credentials=credentials, path=tmp_path / "x.csv")

    assert source.name == "csv"


def test_get_live_feed_hands_alpaca_its_credentials_and_names_the_settings_without_them() -> None:
    feed = get_live_feed(
        "alpaca", credentials=lambda vendor: Credentials("PKSTREAMKEY", "stream-secret")
    )

    assert isinstance(feed, LiveBarFeed)
    assert feed.name == "alpaca"
    with pytest.raises(SourceError, match="STOCKER_ALPACA_API_KEY and STOCKER_ALPACA_SECRET_KEY"):
        get_live_feed("alpaca", credentials=lambda vendor: None)
