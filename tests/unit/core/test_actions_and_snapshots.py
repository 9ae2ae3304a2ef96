"""Corporate action rows (a value of 0 is refused, action types compared upper-cased, the typed
frame on a 0-based index) and point-in-time snapshots (empty histories, the latest known on a
day, sectors from the snapshot else the instrument's own)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from stocker.core.factors import sector_labels, snapshot_as_of
from stocker.core.rules.actions import check_corporate_actions


def test_action_rows_typed_and_checked() -> None:
    frame = pd.DataFrame(
        {
            "symbol": [" AAPL", "AAPL", "MSFT", "MSFT", "XOM"],
            "date": ["2024-06-10", "2024-06-10", "2024-06-11", "later", "2024-06-12"],
            "action_type": ["split", "SPLIT", "dividend", "DIVIDEND", "DIVIDEND"],
            "value": ["4", 4.0, 0, 0.5, "0.0001"],
        },
        index=[9, 8, 7, 6, 5],
    )
    result = check_corporate_actions(frame)
    typed = result.frame
    assert list(typed.index) == [0, 1, 2, 3, 4]
    assert "index" not in typed.columns
    assert typed["symbol"].tolist() == ["AAPL", "AAPL", "MSFT", "MSFT", "XOM"]
    assert typed["action_type"].tolist() == ["SPLIT", "SPLIT", "DIVIDEND", "DIVIDEND", "DIVIDEND"]
    assert typed["value"].tolist() == [4.0, 4.0, 0.0, 0.5, 0.0001]
    assert typed["date"].iloc[0] == pd.Timestamp("2024-06-10")
    texts = {k: [r.text for r in v] for k, v in result.reasons.items()}
    dup = (
        "duplicate_key: key (symbol, date, action_type) = (AAPL, 2024-06-10, SPLIT) "
        "appears 2 times in the batch"
    )
    assert texts == {
        0: [dup],
        1: [dup],
        2: ["bad_value: value must be a number > 0, got 0"],
        3: ["bad_date: date 'later' is not a valid date"],
    }
    assert result.valid["symbol"].tolist() == ["XOM"]


def test_snapshot_as_of_keeps_each_symbols_latest_known_row() -> None:
    history = pd.DataFrame(
        {
            "symbol": ["A", "A", "A", "B", "C"],
            "as_of_date": ["2024-03-31", "2023-12-31", "2024-06-30", "2024-01-15", "2024-05-01"],
            "sector": ["Tech", "Energy", "Health", "Banks", None],
        }
    )
    known = snapshot_as_of(history, dt.date(2024, 5, 1))
    assert list(known.index) == ["A", "B", "C"]
    assert known.index.name == "symbol"
    assert known["sector"].tolist()[:2] == ["Tech", "Banks"]
    assert pd.isna(known.at["C", "sector"])
    assert "_d" not in known.columns
    assert list(snapshot_as_of(history, dt.date(2023, 12, 31)).index) == ["A"]
    empty = snapshot_as_of(history.iloc[0:0], dt.date(2024, 5, 1))
    assert empty.index.name == "symbol"
    assert "symbol" not in empty.columns
    bare = pd.DataFrame()
    assert snapshot_as_of(bare, dt.date(2024, 5, 1)) is bare


def test_sector_labels_prefer_the_snapshot_then_the_instrument() -> None:
    snapshots = pd.DataFrame({"sector": ["Tech", None]}, index=pd.Index(["A", "B"], name="symbol"))
    labels = sector_labels(
        snapshots, {"B": "Banks", "C": "Energy", "A": "Old"}, ["A", "B", "C", "D"]
    )
    assert labels.tolist()[:3] == ["Tech", "Banks", "Energy"]
    assert pd.isna(labels["D"])
    assert list(labels.index) == ["A", "B", "C", "D"]
    without = sector_labels(pd.DataFrame(index=["A"]), {"A": "Old"}, ["A", "Z"])
    assert without["A"] == "Old"
    assert pd.isna(without["Z"])
    assert without.dtype == object
    none_known = sector_labels(pd.DataFrame(), {}, ["A"])
    assert pd.isna(none_known["A"])
    assert none_known.dtype == object
