"""Re-ingesting a corrected file: only rows whose values changed count as updated and are announced.

Provenance (`source`, `source_hash`) of a row whose values did not change stays as first recorded,
so the same file under another name, or a file differing in one row, updates one row and queues
one `market-bars` event.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, text

from stocker.data.ingest import fetch_and_ingest
from stocker.sources import registry
from stocker.sources.base import FetchRequest

TODAY = date(2024, 6, 28)
SESSIONS = [day.date() for day in pd.bdate_range("2024-03-01", "2024-03-28")]  # no holiday


def _write(path: Path, closes: list[float]) -> Path:
    lines = ["symbol,date,open,high,low,close,volume"]
    for day, close in zip(SESSIONS, closes, strict=True):
        lines.append(f"AAPL,{day},{close},{close + 1},{close - 1},{close},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def _ingest(uow, path: Path):
    source = registry.get_source("csv", path=path)
    return fetch_and_ingest(uow, source, FetchRequest(()), today=TODAY)


def _events(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM outbox WHERE stream = 'market-bars'")).scalar()
        )


def _provenance(engine: Engine) -> dict[date, tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT date, source, source_hash FROM prices_daily")).all()
    return {row.date: (row.source, row.source_hash) for row in rows}


CLOSES = [100.0 + index for index in range(len(SESSIONS))]


def test_reingest_with_one_corrected_close_updates_one_row_and_queues_one_event(
    engine, uow, tmp_path: Path
):
    first = _ingest(uow, _write(tmp_path / "bars.csv", CLOSES))
    assert first.table("prices_daily").inserted == len(SESSIONS)
    before = _provenance(engine)
    events = _events(engine)
    corrected = list(CLOSES)
    corrected[5] += 0.25

    again = _ingest(uow, _write(tmp_path / "bars.csv", corrected))

    prices = again.table("prices_daily")
    assert (prices.inserted, prices.updated, prices.unchanged) == (0, 1, len(SESSIONS) - 1)
    assert again.events == 1 and _events(engine) == events + 1
    after = _provenance(engine)
    changed = [day for day in SESSIONS if after[day] != before[day]]
    assert changed == [SESSIONS[5]]  # the corrected row records the file that corrected it


def test_same_file_under_another_name_changes_nothing_and_keeps_first_provenance(
    engine, uow, tmp_path: Path
):
    _ingest(uow, _write(tmp_path / "bars.csv", CLOSES))
    before = _provenance(engine)
    events = _events(engine)

    again = _ingest(uow, _write(tmp_path / "copy_of_bars.csv", CLOSES))

    prices = again.table("prices_daily")
    assert (prices.inserted, prices.updated, prices.unchanged) == (0, 0, len(SESSIONS))
    assert again.events == 0 and _events(engine) == events
    assert _provenance(engine) == before
    assert {source for source, _ in before.values()} == {"csv:bars.csv"}
