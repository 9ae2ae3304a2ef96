"""Resampling stored minute bars and checking them against stored daily bars."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from stocker.bootstrap import App
from stocker.core.errors import DataError
from stocker.data.calendars import session_minutes
from stocker.data.ingest import ingest
from stocker.data.intraday import (
    check_daily_agreement,
    daily_from_intraday,
    resample_intraday,
)
from stocker.sources.base import SourceBatch
from stocker.store.uow import SqlUnitOfWork

TODAY = date(2024, 12, 31)
# the Friday after Thanksgiving closes at 13:00 New York time
SESSIONS = ["2024-11-26", "2024-11-27", "2024-11-29"]


def minute_bars(symbol: str, seed: int) -> pd.DataFrame:
    """Every trading minute of SESSIONS as a random walk on the 4-decimal price grid."""
    rng = np.random.default_rng(seed)
    minutes = pd.DatetimeIndex(np.concatenate([session_minutes("XNYS", day) for day in SESSIONS]))
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.0005, len(minutes)))), 4)
    open_ = np.round(np.concatenate([[100.0], close[:-1]]), 4)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": minutes,
            "interval": "1m",
            "open": open_,
            "high": np.round(np.maximum(open_, close) + 0.01, 4),
            "low": np.round(np.minimum(open_, close) - 0.01, 4),
            "close": close,
            "volume": rng.integers(100, 10_000, len(minutes)),
        }
    )


def pandas_daily(bars: pd.DataFrame) -> pd.DataFrame:
    """The oracle: pandas resample by New York calendar day."""
    local = bars.set_index(bars["timestamp"].dt.tz_convert("America/New_York"))
    aggregation = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    daily = local[list(aggregation)].resample("1D").agg(aggregation).dropna(subset=["open"])
    daily.index = daily.index.tz_localize(None)
    return daily


@pytest.fixture
def stored(uow: SqlUnitOfWork) -> dict[str, pd.DataFrame]:
    """Minute bars of two symbols stored through ingest, and daily bars that agree with them."""
    minutes = {"AAA": minute_bars("AAA", 1), "BBB": minute_bars("BBB", 2)}
    frames = []
    for symbol, bars in minutes.items():
        daily = pandas_daily(bars).reset_index(names="date")
        daily.insert(0, "symbol", symbol)
        daily["date"] = daily["date"].dt.date
        frames.append(daily)
    daily = pd.concat(frames, ignore_index=True)
    # break two facts: BBB's close on the 27th and AAA's volume on the 29th
    daily.loc[(daily["symbol"] == "BBB") & (daily["date"] == date(2024, 11, 27)), "close"] += 0.5
    daily.loc[(daily["symbol"] == "AAA") & (daily["date"] == date(2024, 11, 29)), "volume"] += (
        50_000
    )
    daily = daily[~((daily["symbol"] == "BBB") & (daily["date"] == date(2024, 11, 29)))]
    report = ingest(
        uow,
        SourceBatch(
            source="minutes",
            frames={
                "prices_intraday": pd.concat(minutes.values(), ignore_index=True),
                "prices_daily": daily,
            },
        ),
        today=TODAY,
    )
    assert report.quarantined == 0
    return minutes


def test_daily_from_stored_minutes_matches_pandas(uow, stored):
    ours = daily_from_intraday(uow, ["AAA"], date(2024, 11, 26), date(2024, 11, 29))
    oracle = pandas_daily(stored["AAA"])
    assert ours["date"].tolist() == oracle.index.tolist()
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(ours[column].to_numpy(), oracle[column].to_numpy())


def test_resample_stored_minutes_to_hourly_bars_aligned_to_the_open(uow, stored):
    hourly = resample_intraday(uow, ["AAA"], date(2024, 11, 29), date(2024, 11, 29), "1h")
    local = hourly["timestamp"].dt.tz_convert("America/New_York").dt.strftime("%H:%M")
    assert local.tolist() == ["09:30", "10:30", "11:30", "12:30"]
    bars = stored["AAA"]
    last_hour = bars[bars["timestamp"] >= pd.Timestamp("2024-11-29 17:30", tz="UTC")]
    assert hourly["volume"].iloc[-1] == last_hour["volume"].sum()
    assert hourly["close"].iloc[-1] == pytest.approx(last_hour["close"].iloc[-1])


def test_check_daily_agreement_reports_exactly_the_broken_days(uow, stored):
    report = check_daily_agreement(
        uow, ["AAA", "BBB"], date(2024, 11, 26), date(2024, 11, 29), tolerance=1e-4
    )
    found = [(row.symbol, row.date.date().isoformat(), row.field) for row in report.itertuples()]
    assert found == [
        ("AAA", "2024-11-29", "volume"),
        ("BBB", "2024-11-27", "close"),
        ("BBB", "2024-11-29", "missing_daily"),
    ]
    close = report[report["field"] == "close"].iloc[0]
    assert close.daily - close.intraday == pytest.approx(0.5)


def test_check_daily_agreement_volume_tolerance_absorbs_small_volume_gaps(uow, stored):
    report = check_daily_agreement(
        uow, ["AAA"], date(2024, 11, 26), date(2024, 11, 29), volume_tolerance=0.2
    )
    assert report.empty


def test_check_daily_agreement_rejects_bad_arguments(uow):
    with pytest.raises(DataError, match="start"):
        check_daily_agreement(uow, ["AAA"], date(2024, 12, 2), date(2024, 11, 29))
    with pytest.raises(DataError, match="symbols is the string"):
        check_daily_agreement(uow, "AAA", date(2024, 11, 26), date(2024, 11, 29))


def pandas_bars(minutes: pd.DataFrame, rule: str, label: str) -> pd.DataFrame:
    """The oracle for coarser bars: pandas resample in New York time, bins from the 9:30 open."""
    local = minutes.set_index(minutes["timestamp"].dt.tz_convert("America/New_York"))
    aggregation = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    bars = (
        local[list(aggregation)]
        .resample(rule, origin="start_day", offset="30min")
        .agg(aggregation)
        .dropna(subset=["open"])
    )
    bars = bars.reset_index(names="timestamp")
    bars["timestamp"] = bars["timestamp"].dt.tz_convert("UTC")
    return bars.assign(symbol="AAA", interval=label)


@pytest.mark.parametrize(("rule", "label"), [("5min", "5m"), ("1h", "1h")])
def test_ingest_coarser_intraday_bars_land_on_their_grid_and_off_grid_ones_are_refused(
    uow, stored, rule, label
):
    bars = pandas_bars(stored["AAA"], rule, label)
    off_grid = bars.iloc[[0]].assign(timestamp=bars["timestamp"].iloc[0] + pd.Timedelta("2min"))

    report = ingest(
        uow,
        SourceBatch(source="bars", frames={"prices_intraday": pd.concat([bars, off_grid])}),
        today=TODAY,
    )

    table = report.table("prices_intraday")
    assert (table.inserted, table.quarantined) == (len(bars), 1)
    assert table.reasons["off_grid"] == 1
    daily = daily_from_intraday(
        uow, ["AAA"], date(2024, 11, 26), date(2024, 11, 29), from_interval=label
    )
    oracle = pandas_daily(stored["AAA"])
    np.testing.assert_allclose(daily["close"].to_numpy(), oracle["close"].to_numpy())
    np.testing.assert_array_equal(daily["volume"].to_numpy(), oracle["volume"].to_numpy())


def test_intraday_check_command_lists_disagreements_and_exits_non_zero(stored, app: App):
    from typer.testing import CliRunner

    from stocker.cli import app as cli

    runner = CliRunner()
    arguments = ["data", "intraday-check", "--start", "2024-11-26", "--end", "2024-11-29"]
    broken = runner.invoke(cli, [*arguments, "--symbols", "AAA,BBB"], obj=app)
    tolerant = runner.invoke(
        cli, [*arguments, "--symbols", "aaa", "--volume-tolerance", "0.2"], obj=app
    )

    assert broken.exit_code == 1, broken.output
    assert "3 disagreement(s)" in broken.output
    for expected in ("2024-11-27", "close", "missing_daily", "volume"):
        assert expected in broken.output
    assert tolerant.exit_code == 0, tolerant.output
    assert "agree on every session" in tolerant.output


def test_intraday_check_without_intraday_bars_says_there_was_nothing_to_check(uow, app: App):
    from typer.testing import CliRunner

    from stocker.cli import app as cli

    with pytest.raises(DataError, match="no 1m intraday bars"):
        check_daily_agreement(uow, ["AAA"], date(2024, 11, 26), date(2024, 11, 29))
    result = CliRunner().invoke(
        cli,
        ["data", "intraday-check", "--symbols", "AAA", "--start", "2024-11-26", "--end",
         "2024-11-29"],
        obj=app,
    )  # fmt: skip
    assert result.exit_code != 0, result.output
    assert "no 1m intraday bars" in result.output
    assert "agree" not in result.output


def test_check_daily_agreement_names_a_symbol_without_intraday_bars(uow, stored, app: App):
    from typer.testing import CliRunner

    from stocker.cli import app as cli

    report = check_daily_agreement(
        uow, ["AAA", "ZZZ"], date(2024, 11, 26), date(2024, 11, 29), volume_tolerance=0.2
    )
    assert report[["symbol", "field"]].values.tolist() == [["ZZZ", "missing_intraday"]]
    assert pd.isna(report["date"].iloc[0])
    result = CliRunner().invoke(
        cli,
        ["data", "intraday-check", "--symbols", "AAA,ZZZ", "--start", "2024-11-26", "--end",
         "2024-11-29", "--volume-tolerance", "0.2"],
        obj=app,
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "missing_intraday" in result.output and "agree on every" not in result.output
