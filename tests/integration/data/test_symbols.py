"""Symbols that only look like tickers are quarantined with the reason, never registered."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from stocker.core.errors import DataError
from stocker.data.ingest import fetch_and_ingest, ingest
from stocker.data.symbols import checked_symbols
from stocker.sources import registry
from stocker.sources.base import FetchRequest, SourceBatch

TODAY = date(2024, 6, 28)


def _bars(symbols: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": symbols,
            "date": [date(2024, 1, 16)] * len(symbols),
            "open": 10.0,
            "high": 11.0,
            "low": 9.5,
            "close": 10.5,
            "volume": 100,
            "source": "testfeed",
        }
    )


def test_ingest_quarantines_invisible_and_injection_symbols_and_lands_full_width_as_ascii(
    engine, uow
):
    frame = _bars(["AAPL", "AAPL\u200b", "A';--", "ＭＳＦＴ"])
    actions = pd.DataFrame(
        {"symbol": ["IBM\u200b"], "date": [date(2024, 1, 10)], "action_type": ["SPLIT"],
         "value": [2.0]}
    )  # fmt: skip

    report = ingest(
        uow,
        SourceBatch(
            source="testfeed", frames={"prices_daily": frame, "corporate_actions": actions}
        ),
        today=TODAY,
    )

    assert report.table("prices_daily").reasons["symbol_invalid"] == 2
    assert report.table("corporate_actions").reasons["symbol_invalid"] == 1
    with engine.connect() as conn:
        instruments = conn.execute(text("SELECT symbol FROM instrument_info ORDER BY 1")).scalars()
        reasons = conn.execute(
            text("SELECT reasons FROM ingest_quarantine WHERE target_table = 'prices_daily'")
        ).scalars()
        assert list(instruments) == ["AAPL", "MSFT"]
        texts = sorted(reason for row in reasons for reason in row)
    assert any("U+200B ZERO WIDTH SPACE" in reason for reason in texts)
    assert any("U+0027 APOSTROPHE" in reason for reason in texts)
    assert all(reason.startswith("symbol_invalid: ") for reason in texts)


def test_fetch_with_invisible_requested_or_file_symbol_is_refused_naming_the_character(
    uow, tmp_path: Path
):
    path = tmp_path / "bars.csv"
    path.write_text("date,open,high,low,close,volume\n2024-01-16,10,11,9.5,10.5,100\n")
    with pytest.raises(DataError, match=r"U\+200B ZERO WIDTH SPACE"):
        fetch_and_ingest(
            uow, registry.get_source("csv", path=path, symbol="AAPL\u200b"), FetchRequest(()),
            today=TODAY,
        )  # fmt: skip
    with pytest.raises(DataError, match=r"U\+0027 APOSTROPHE"):
        fetch_and_ingest(
            uow, registry.get_source("csv", path=path, symbol="AAPL"), FetchRequest(("A';--",)),
            today=TODAY,
        )  # fmt: skip
    with pytest.raises(DataError, match=r"U\+200B ZERO WIDTH SPACE"):
        checked_symbols(["AAPL", "MSFT\u200b"])


def test_universe_members_and_instrument_rows_are_checked_like_ingested_symbols(uow):
    from stocker.data.instruments import upsert_instruments
    from stocker.data.universes import add_members, create_universe

    upsert_instruments(uow, [{"symbol": "AAPL"}])
    create_universe(uow, "core")
    with pytest.raises(DataError, match=r"U\+200B ZERO WIDTH SPACE"):
        add_members(uow, "core", ["AAPL\u200b"])
    with pytest.raises(DataError, match=r"'ＡＡＰＬ' is 'AAPL' once Unicode-normalized"):
        add_members(uow, "core", ["ＡＡＰＬ"])
    with pytest.raises(DataError, match=r"U\+0027 APOSTROPHE"):
        upsert_instruments(uow, [{"symbol": "A';--"}])
    assert add_members(uow, "core", ["AAPL"]).added == 1
