"""`upsert` against a real, migrated PostgreSQL: counts, idempotence, rejections, key handling."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from stocker.core.errors import DataError, ValidationError
from stocker.store import bulk
from stocker.store.bulk import upsert
from stocker.store.bulk_validate import validate
from stocker.store.table_info import table_info

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


def register(conn: Connection, symbols: tuple[str, ...] = SYMBOLS) -> None:
    upsert(conn, "instrument_info", pd.DataFrame({"symbol": list(symbols)}))


def daily_bars(symbols: tuple[str, ...] = SYMBOLS, days: int = 25, seed: int = 1) -> pd.DataFrame:
    """Valid bars on 4-decimal prices, so stored values equal the input exactly."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2024-01-02", periods=days)
    count = len(symbols) * days
    close = rng.uniform(10, 100, count).round(4)
    return pd.DataFrame(
        {
            "symbol": np.repeat(symbols, days),
            "date": np.tile(dates, len(symbols)),
            "open": close,
            "high": (close * 1.01).round(4),
            "low": (close * 0.99).round(4),
            "close": close,
            "adj_close": close,
            "volume": rng.integers(1, 1_000_000, count),
            "source": "test",
        }
    )


def stored_prices(conn: Connection) -> pd.DataFrame:
    return pd.read_sql(
        text("SELECT id, symbol, date, close, adj_close, volume, created_at FROM prices_daily"),
        conn,
    ).sort_values(["symbol", "date"], ignore_index=True)


@pytest.fixture
def loaded(engine: Engine) -> pd.DataFrame:
    """prices_daily holding `daily_bars()`, committed."""
    frame = daily_bars()
    with engine.begin() as conn:
        register(conn)
        upsert(conn, "prices_daily", frame)
    return frame


def test_table_info_reads_types_limits_and_key(engine: Engine) -> None:
    with engine.connect() as conn:
        info = table_info(conn, "prices_daily")

    assert info.default_key == ("symbol", "date")
    assert info.columns["symbol"].max_length == 20
    assert (info.columns["close"].precision, info.columns["close"].scale) == (14, 4)
    assert info.columns["volume"].integer_bounds == (-(2**63), 2**63 - 1)
    assert info.columns["source"].not_null and not info.columns["source_hash"].not_null
    assert info.columns["id"].has_default
    assert not info.has_updated_at


def test_upsert_when_table_empty_inserts_every_row(engine: Engine) -> None:
    frame = daily_bars()
    with engine.begin() as conn:
        register(conn)
        result = upsert(conn, "prices_daily", frame)

    with engine.connect() as conn:
        stored = stored_prices(conn)
    assert (result.received, result.inserted, result.updated, result.unchanged) == (100, 100, 0, 0)
    assert result.rejected == []
    assert stored["close"].astype(float).tolist() == frame["close"].tolist()
    assert stored["volume"].tolist() == frame["volume"].tolist()


def test_upsert_when_reloaded_reports_no_changes_and_leaves_rows_untouched(
    engine: Engine, loaded: pd.DataFrame
) -> None:
    with engine.connect() as conn:
        before = stored_prices(conn)
        before_xmin = conn.execute(
            text("SELECT sum(xmin::text::bigint) FROM prices_daily")
        ).scalar()

    with engine.begin() as conn:
        result = upsert(conn, "prices_daily", loaded)

    with engine.connect() as conn:
        after = stored_prices(conn)
        after_xmin = conn.execute(text("SELECT sum(xmin::text::bigint) FROM prices_daily")).scalar()
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 100)
    pd.testing.assert_frame_equal(after, before)
    assert after_xmin == before_xmin  # not rewritten: same row versions


def test_upsert_when_one_percent_changed_updates_exactly_those(engine: Engine) -> None:
    frame = daily_bars(days=250)
    with engine.begin() as conn:
        register(conn)
        upsert(conn, "prices_daily", frame)
    changed = frame.copy()
    rows = np.random.default_rng(3).choice(len(frame), size=10, replace=False)
    changed.loc[rows, "volume"] += 7
    with engine.connect() as conn:
        before = stored_prices(conn)

    with engine.begin() as conn:
        result = upsert(conn, "prices_daily", changed, return_changed=True)

    with engine.connect() as conn:
        after = stored_prices(conn)
    assert (result.inserted, result.updated, result.unchanged) == (0, 10, 990)
    assert result.changed is not None
    expected = changed.iloc[np.sort(rows)][["symbol", "volume"]].reset_index(drop=True)
    got = result.changed.sort_values(["symbol", "date"], ignore_index=True)[["symbol", "volume"]]
    pd.testing.assert_frame_equal(got, expected.sort_values("symbol", ignore_index=True))
    assert after["volume"].tolist() == changed["volume"].tolist()
    assert after["id"].tolist() == before["id"].tolist()
    assert after["created_at"].tolist() == before["created_at"].tolist()


def test_upsert_when_new_and_existing_rows_mixed_counts_each(
    engine: Engine, loaded: pd.DataFrame
) -> None:
    later = daily_bars(days=30).iloc[lambda frame: frame["date"] > loaded["date"].max()]
    edited = loaded.iloc[:3].assign(volume=lambda frame: frame["volume"] + 1)
    untouched = loaded.iloc[3:8]
    batch = pd.concat([later, edited, untouched], ignore_index=True)

    with engine.begin() as conn:
        result = upsert(conn, "prices_daily", batch)

    assert (result.inserted, result.updated, result.unchanged) == (len(later), 3, 5)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM prices_daily")).scalar() == 100 + len(later)


def test_upsert_when_table_has_updated_at_sets_it_only_on_real_updates(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert(conn, "instrument_info", [{"symbol": "AAA", "name": "A"}, {"symbol": "BBB"}])
        conn.execute(text("UPDATE instrument_info SET updated_at = '2000-01-01'"))

    with engine.begin() as conn:
        result = upsert(
            conn,
            "instrument_info",
            [{"symbol": "AAA", "name": "A"}, {"symbol": "BBB", "name": "B"}],
        )
        stamps = dict(conn.execute(text("SELECT symbol, updated_at FROM instrument_info")).all())
        now = conn.execute(text("SELECT now()")).scalar()

    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    assert stamps["AAA"].year == 2000
    assert stamps["BBB"] == now


def test_upsert_when_reject_raises_writes_nothing(engine: Engine) -> None:
    frame = daily_bars()
    frame["close"] = frame["close"].astype(object)
    frame.loc[5, "close"] = np.nan
    frame.loc[7, "symbol"] = "TOOLONG" * 4
    with engine.begin() as conn:
        register(conn)

    with pytest.raises(ValidationError) as raised, engine.begin() as conn:
        upsert(conn, "prices_daily", frame)

    message = str(raised.value)
    assert "2 of 100 rows rejected, nothing written" in message
    assert "row 5: close: NaN is not a number" in message
    assert "row 7: symbol: 'TOOLONGTOOLONGTOOLONGTOOLONG' is 28 characters" in message
    assert raised.value.reasons == [
        "row 5: close: NaN is not a number",
        "row 7: symbol: 'TOOLONGTOOLONGTOOLONGTOOLONG' is 28 characters, more than VARCHAR(20)",
    ]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM prices_daily")).scalar() == 0


def test_upsert_when_reject_returned_writes_valid_rows_and_reports_raw_rows(
    engine: Engine,
) -> None:
    frame = daily_bars()
    frame.loc[2, "volume"] = -1  # a domain rule, not a type rule: PostgreSQL's CHECK
    frame = frame.drop(index=2).reset_index(drop=True)
    frame["volume"] = frame["volume"].astype(float)
    frame.loc[4, "volume"] = 1.5
    frame.loc[9, "date"] = pd.Timestamp("2024-02-01 12:00")
    with engine.begin() as conn:
        register(conn)
        result = upsert(conn, "prices_daily", frame, on_reject="return")

    assert (result.received, result.inserted) == (99, 97)
    assert [(reject.row_number, reject.reasons) for reject in result.rejected] == [
        (4, ("volume: 1.5 is not a whole number",)),
        (9, ("date: 2024-02-01T12:00:00 has a time of day, expected a date",)),
    ]
    assert result.rejected[0].row["volume"] == 1.5
    assert result.rejected[0].row["symbol"] == frame.loc[4, "symbol"]


def test_upsert_when_batch_repeats_a_key_rejects_every_copy(engine: Engine) -> None:
    frame = daily_bars()
    duplicate = frame.iloc[[10]].assign(close=99.0, high=100.0, low=98.0, open=99.0)
    batch = pd.concat([frame, duplicate], ignore_index=True)
    with engine.begin() as conn:
        register(conn)
        result = upsert(conn, "prices_daily", batch, on_reject="return")

    assert result.inserted == 99
    assert [reject.row_number for reject in result.rejected] == [10, 100]
    assert "appears more than once in this batch (also row 100)" in result.rejected[0].reasons[0]


def test_upsert_when_rows_are_dicts_keeps_decimals_exact(engine: Engine) -> None:
    rows = [
        {
            "symbol": "AAA",
            "date": dt.date(2024, 1, 2),
            "open": Decimal("10.1234"),
            "high": Decimal("11"),
            "low": "9.5",
            "close": 10.5,
            "adj_close": Decimal("10.5"),
            "volume": 2**40,
            "source": "dicts",
        },
        {
            "symbol": "BBB",
            "date": "2024-01-03",
            "open": 20,
            "high": 21,
            "low": 19,
            "close": 20,
            "adj_close": 20,
            "volume": 5,
            "source": "dicts",
            "source_hash": None,
        },
    ]
    with engine.begin() as conn:
        register(conn)
        result = upsert(conn, "prices_daily", rows)
        stored = conn.execute(
            text("SELECT symbol, date, open, low, volume FROM prices_daily ORDER BY symbol")
        ).all()

    assert result.inserted == 2
    assert stored == [
        ("AAA", dt.date(2024, 1, 2), Decimal("10.1234"), Decimal("9.5000"), 2**40),
        ("BBB", dt.date(2024, 1, 3), Decimal("20.0000"), Decimal("19.0000"), 5),
    ]


def test_upsert_when_dict_row_rejected_returns_it_verbatim(engine: Engine) -> None:
    rows = [{"symbol": "AAA", "name": "x" * 300, "active": "sometimes"}]

    with engine.begin() as conn:
        result = upsert(conn, "instrument_info", rows, on_reject="return")

    assert result.rejected[0].row == rows[0]
    assert result.rejected[0].reasons == (
        "name: '" + "x" * 29 + "…' is 300 characters, more than VARCHAR(255)",
        "active: 'sometimes' is not a boolean",
    )


def test_upsert_when_decimals_exceed_scale_rounds_like_postgresql(engine: Engine) -> None:
    frame = daily_bars(days=1).iloc[:1]
    frame = frame.assign(
        open=10.0, high=11.0, low=9.0, close=10.12345, adj_close=Decimal("10.00005")
    )
    with engine.begin() as conn:
        register(conn)
        upsert(conn, "prices_daily", frame)
        stored = conn.execute(text("SELECT close, adj_close FROM prices_daily")).one()
        reloaded = upsert(conn, "prices_daily", frame)

    assert stored == (Decimal("10.1235"), Decimal("10.0001"))
    assert (reloaded.updated, reloaded.unchanged) == (0, 1)


def test_upsert_when_postgresql_check_fails_raises_data_error_naming_row(engine: Engine) -> None:
    frame = daily_bars()
    frame.loc[6, "low"] = frame.loc[6, "high"] + 1
    with engine.begin() as conn:
        register(conn)

    with pytest.raises(DataError, match=r"check constraint.*input row 6"), engine.begin() as conn:
        upsert(conn, "prices_daily", frame)


def test_upsert_when_failing_keeps_the_callers_transaction_usable(engine: Engine) -> None:
    with engine.begin() as conn:
        register(conn)
        with pytest.raises(DataError, match="instrument_info"):
            upsert(conn, "prices_daily", daily_bars(symbols=("ZZZ",)))
        assert upsert(conn, "prices_daily", daily_bars()).inserted == 100


def test_upsert_when_another_writer_raced_falls_back_to_merge(
    engine: Engine, loaded: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The existence check ran before a concurrent writer committed the same keys.
    monkeypatch.setattr(bulk, "_any_key_exists", lambda *arguments: False)
    batch = loaded.assign(volume=loaded["volume"] + 1)

    with engine.begin() as conn:
        result = upsert(conn, "prices_daily", batch)

    assert (result.inserted, result.updated) == (0, 100)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM prices_daily")).scalar() == 100


def test_upsert_when_concurrent_writer_commits_same_keys_merges(engine: Engine) -> None:
    frame = daily_bars()
    with engine.begin() as conn:
        register(conn)
    first = engine.connect()
    first.begin()
    assert upsert(first, "prices_daily", frame).inserted == 100  # not committed yet
    outcome: dict[str, object] = {}

    def second_writer() -> None:
        try:
            with engine.begin() as conn:
                outcome["result"] = upsert(conn, "prices_daily", frame.assign(volume=7))
        except Exception as error:  # surfaced by the assertion below
            outcome["error"] = error

    thread = threading.Thread(target=second_writer)
    thread.start()
    with engine.connect() as watcher:
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        deadline = time.monotonic() + 30
        blocked = False
        while not blocked and time.monotonic() < deadline:
            blocked = bool(watcher.execute(waiting).scalar())
            watcher.rollback()
            time.sleep(0.05)
    assert blocked, "the second writer never waited on the first one's keys"
    first.commit()  # the second writer's COPY now hits a unique violation
    first.close()
    thread.join(timeout=60)

    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert isinstance(result, bulk.UpsertResult)
    assert (result.inserted, result.updated) == (0, 100)
    with engine.connect() as conn:
        volumes = conn.execute(text("SELECT DISTINCT volume FROM prices_daily")).scalars().all()
    assert volumes == [7]


@pytest.mark.parametrize("listed_values", [1_000, 1])
def test_existence_check_finds_stored_keys_by_list_or_range(
    engine: Engine, loaded: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, listed_values: int
) -> None:
    # With a limit of 1 the dates are bounded by a range and the symbols are not filtered.
    monkeypatch.setattr(bulk, "ANY_VALUES_LIMIT", listed_values)
    monkeypatch.setattr(bulk, "TEXT_ANY_VALUES_LIMIT", listed_values)
    with engine.connect() as conn:
        info = table_info(conn, "prices_daily")
    later = daily_bars(days=40).iloc[lambda frame: frame["date"] > loaded["date"].max()]
    other_symbols = daily_bars(symbols=("EEE", "FFF"))

    def exists(frame: pd.DataFrame) -> bool:
        valid = validate(frame.reset_index(drop=True), info, info.default_key).valid_table()
        with engine.connect() as conn, conn.connection.driver_connection.cursor() as cursor:
            return bulk._any_key_exists(cursor, info, info.default_key, valid)

    assert exists(loaded.iloc[[0]])
    assert exists(pd.concat([later, loaded.iloc[[-1]]]))
    assert not exists(later)
    assert exists(other_symbols) is (listed_values == 1)  # only a list rules symbols out


def test_upsert_when_key_columns_unknown_raise(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(DataError, match="not a unique key"):
        upsert(conn, "prices_daily", daily_bars(), key=("symbol",))
    with engine.begin() as conn, pytest.raises(DataError, match=r"unknown column.*colour"):
        upsert(conn, "prices_daily", daily_bars().assign(colour="red"))


def test_upsert_on_scratch_table_handles_json_arrays_and_timestamps(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE scratch (id BIGSERIAL PRIMARY KEY, code TEXT NOT NULL UNIQUE, "
                "tags TEXT[], weights DOUBLE PRECISION[], payload JSONB, doc JSON, "
                "seen_at TIMESTAMPTZ, flag BOOLEAN, token UUID, "
                "created_at TIMESTAMPTZ DEFAULT NOW(), updated_at TIMESTAMPTZ)"
            )
        )
    rows = [
        {
            "code": "a",
            "tags": ["x", 'q"uote', "back\\slash", None],
            "weights": np.array([0.5, 1.5]),
            "payload": {"n": 1, "d": Decimal("2.5")},
            "doc": [1, "two"],
            "seen_at": pd.Timestamp("2024-01-02 10:00", tz="America/New_York"),
            "flag": True,
            "token": "12345678-1234-5678-1234-567812345678",
        },
        {"code": "b", "tags": [], "payload": None, "doc": '{"raw": true}', "flag": "no"},
    ]
    with engine.begin() as conn:
        first = upsert(conn, "scratch", rows)
        second = upsert(conn, "scratch", rows)
        stored = conn.execute(
            text(
                "SELECT code, tags, weights, payload, doc, seen_at, flag FROM scratch ORDER BY code"
            )
        ).all()

    assert (first.inserted, second.unchanged) == (2, 2)
    assert stored[0][:5] == (
        "a",
        ["x", 'q"uote', "back\\slash", None],
        [0.5, 1.5],
        {"n": 1, "d": 2.5},
        [1, "two"],
    )
    assert stored[0][5] == dt.datetime(2024, 1, 2, 15, 0, tzinfo=dt.UTC)
    assert stored[1][1:5] == ([], None, None, {"raw": True})
    assert stored[1][6] is False


def test_upsert_with_provenance_counts_only_value_changes_and_keeps_first_provenance(
    engine: Engine,
) -> None:
    first = daily_bars(("AAA",), days=5).assign(source="first.csv", source_hash="a" * 64)
    with engine.begin() as conn:
        register(conn, ("AAA",))
        upsert(conn, "prices_daily", first)
    again = first.assign(source="renamed.csv", source_hash="b" * 64)
    again.loc[2, "close"] = again.loc[2, "close"] + 0.5
    again.loc[2, "high"] = again.loc[2, "high"] + 0.5

    with engine.begin() as conn:
        result = upsert(
            conn, "prices_daily", again, return_changed=True, provenance=("source", "source_hash")
        )
        stored = conn.execute(
            text("SELECT date, source, source_hash FROM prices_daily ORDER BY date")
        ).all()

    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 4)
    assert result.changed is not None and list(result.changed["date"]) == [
        again.loc[2, "date"].date()
    ]
    assert [row.source for row in stored] == ["first.csv"] * 2 + ["renamed.csv"] + ["first.csv"] * 2
    assert stored[2].source_hash == "b" * 64 and stored[0].source_hash == "a" * 64
