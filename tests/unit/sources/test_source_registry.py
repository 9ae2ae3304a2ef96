"""Choosing a source by name."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from vendor_loopback import VENDOR_FIXTURES

from stocker.core.errors import SourceError
from stocker.sources.base import Source
from stocker.sources.registry import SOURCE_NAMES, get_source


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


def test_get_source_for_a_vendor_without_keys_names_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    monkeypatch.delenv("KITE_ACCESS_TOKEN", raising=False)

    with pytest.raises(SourceError, match="set KITE_API_KEY and KITE_ACCESS_TOKEN"):
        get_source("kite")
