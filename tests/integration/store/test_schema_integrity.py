"""The database itself refuses rows that break the data-integrity rules of both specs.

SigmaQLab 11.10 (symbols exist, covariance matches its universe, group order kept, weights sum to
~1) and the Stocker ledger (balanced per currency at commit, append-only), plus price sanity.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError

DAY = dt.date(2024, 1, 31)


@pytest.fixture
def seeded_engine(engine: Engine) -> Engine:
    """This test's database holding the instruments AAA, BBB and SPY, portfolio 'p' and one
    balanced ledger entry: the rows the rejected writes refer to."""
    with engine.begin() as conn:
        _instruments(conn, "SPY")
        _portfolio(conn)
        entry_id = _entry(conn)
        _post(conn, entry_id, "assets:cash", "10", "USD")
        _post(conn, entry_id, "equity:contributions", "-10", "USD")
    return engine


def _instruments(conn: Connection, *symbols: str) -> None:
    for symbol in symbols:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES (:s)"), {"s": symbol})


def _portfolio(conn: Connection) -> int:
    _instruments(conn, "AAA", "BBB")
    return conn.execute(
        text("INSERT INTO portfolios (code, name) VALUES ('p', 'P') RETURNING id")
    ).scalar_one()


def _weights(conn: Connection, portfolio_id: int, weights: dict[str, float]) -> None:
    for symbol, weight in weights.items():
        conn.execute(
            text(
                "INSERT INTO portfolio_weights (portfolio_id, date, symbol, weight)"
                " VALUES (:p, :d, :s, :w)"
            ),
            {"p": portfolio_id, "d": DAY, "s": symbol, "w": weight},
        )


# ----------------------------------------------------------------------------- portfolio weights


def test_portfolio_weights_when_date_does_not_sum_to_one_fail_at_commit(
    seeded_engine: Engine,
) -> None:
    with seeded_engine.connect() as conn:
        portfolio_id = conn.execute(text("SELECT id FROM portfolios")).scalar_one()

    with (
        pytest.raises(IntegrityError, match=r"on 2024-01-31 sum to 0\.9.*expected 1 within"),
        seeded_engine.begin() as conn,
    ):
        _weights(conn, portfolio_id, {"AAA": 0.5, "BBB": 0.4})

    with seeded_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM portfolio_weights")).scalar() == 0


def test_portfolio_weights_when_rows_sum_to_one_within_tolerance_commit(engine: Engine) -> None:
    with engine.begin() as conn:
        portfolio_id = _portfolio(conn)
        _weights(conn, portfolio_id, {"AAA": 0.6})  # partial sums are fine before commit
        _weights(conn, portfolio_id, {"BBB": 0.4 + 5e-7})

    with engine.connect() as conn:
        assert conn.execute(text("SELECT sum(weight) FROM portfolio_weights")).scalar() == (
            pytest.approx(1.0, abs=1e-6)
        )


def test_portfolio_weights_when_one_row_is_changed_alone_fail_at_commit(engine: Engine) -> None:
    with engine.begin() as conn:
        portfolio_id = _portfolio(conn)
        _weights(conn, portfolio_id, {"AAA": 0.5, "BBB": 0.5})

    with pytest.raises(IntegrityError, match=r"sum to 0\.7"), engine.begin() as conn:
        conn.execute(text("UPDATE portfolio_weights SET weight = 0.2 WHERE symbol = 'BBB'"))
    with pytest.raises(IntegrityError, match=r"sum to 0\.5"), engine.begin() as conn:
        conn.execute(text("DELETE FROM portfolio_weights WHERE symbol = 'BBB'"))
    with engine.begin() as conn:  # removing the whole rebalance date is allowed
        conn.execute(text("DELETE FROM portfolio_weights"))


def test_portfolio_weights_when_changed_after_an_early_check_are_checked_again(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        portfolio_id = _portfolio(conn)

    with (
        pytest.raises(IntegrityError, match=r"sum to 0\.7"),
        engine.begin() as conn,
    ):
        _weights(conn, portfolio_id, {"AAA": 0.5, "BBB": 0.5})
        conn.execute(text("SET CONSTRAINTS portfolio_weights_sum_to_one IMMEDIATE"))
        conn.execute(text("SET CONSTRAINTS portfolio_weights_sum_to_one DEFERRED"))
        conn.execute(text("UPDATE portfolio_weights SET weight = 0.2 WHERE symbol = 'BBB'"))
    with (
        pytest.raises(IntegrityError, match=r"sum to 0\.7"),
        engine.begin() as conn,
    ):
        _weights(conn, portfolio_id, {"AAA": 0.5, "BBB": 0.5})
        conn.execute(text("SET CONSTRAINTS portfolio_weights_sum_to_one IMMEDIATE"))
        conn.execute(text("UPDATE portfolio_weights SET weight = 0.2 WHERE symbol = 'BBB'"))


# ----------------------------------------------------------------------------- covariance / HRP


def _universe_hash(symbols: list[str]) -> str:
    return hashlib.sha256(",".join(symbols).encode("utf-8")).hexdigest()


def test_covariance_matrix_when_hash_matches_its_symbols_is_stored(engine: Engine) -> None:
    symbols = ["RELIANCE", "TCS", "INFY"]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO covariance_matrices (as_of_date, universe_hash, symbols, matrix_blob)"
                " VALUES (:d, :h, :s, :b)"
            ),
            {"d": DAY, "h": _universe_hash(symbols), "s": symbols, "b": b"\x78\x9c"},
        )
        method = conn.execute(text("SELECT method FROM covariance_matrices")).scalar_one()

    assert method == "ledoit_wolf"


def test_universe_snapshot_when_hash_is_of_another_universe_is_rejected(
    seeded_engine: Engine,
) -> None:
    payloads = {"covariance_matrices": ("matrix_blob", b"\x00"), "hrp_trees": ("tree_json", "{}")}
    for table, (column, value) in payloads.items():
        with (
            pytest.raises(IntegrityError, match=f"ck_{table}_universe_hash"),
            seeded_engine.begin() as conn,
        ):
            conn.execute(
                text(
                    f"INSERT INTO {table} (as_of_date, universe_hash, symbols, {column})"
                    " VALUES (:d, :h, :s, :v)"
                ),
                {
                    "d": DAY,
                    "h": _universe_hash(["TCS", "INFY"]),
                    "s": ["INFY", "TCS"],
                    "v": value,
                },
            )


# ----------------------------------------------------------------------------- ledger


def _entry(conn: Connection, kind: str = "DEPOSIT", **columns: object) -> uuid.UUID:
    entry_id = uuid.uuid4()
    conn.execute(
        text(
            "INSERT INTO ledger_entries (entry_id, portfolio_id, date, kind, corrects_entry_id)"
            " VALUES (:e, 'main', :d, :k, :c)"
        ),
        {"e": entry_id, "d": DAY, "k": kind, "c": columns.get("corrects")},
    )
    return entry_id


def _post(conn: Connection, entry_id: uuid.UUID, account: str, amount: str, currency: str) -> None:
    conn.execute(
        text(
            "INSERT INTO ledger_postings (entry_id, account, amount, currency)"
            " VALUES (:e, :a, :m, :c)"
        ),
        {"e": entry_id, "a": account, "m": amount, "c": currency},
    )


def test_ledger_entry_when_postings_balance_per_currency_commits(engine: Engine) -> None:
    with engine.begin() as conn:
        entry_id = _entry(conn)
        _post(conn, entry_id, "assets:cash", "1000.0000", "USD")
        _post(conn, entry_id, "assets:cash", "900.0000", "EUR")
        _post(conn, entry_id, "equity:contributions", "-1000.0000", "USD")
        _post(conn, entry_id, "equity:contributions", "-900.0000", "EUR")

    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_postings")).scalar() == 4


def test_ledger_entry_when_unbalanced_fails_at_commit(seeded_engine: Engine) -> None:
    cases = {
        "off by a cent": ([("1000", "USD"), ("-999.9999", "USD")], "USD postings sum to 0.0001,"),
        "balanced only across currencies": (
            [("100", "USD"), ("-100", "EUR")],
            "EUR postings sum to -100.0000, expected 0",
        ),
        "single leg": ([("0", "USD")], "has 1 posting"),
        "no postings": ([], "has 0 posting"),
    }
    for case, (postings, message) in cases.items():
        with pytest.raises(IntegrityError, match=message), seeded_engine.begin() as conn:
            entry_id = _entry(conn)
            for index, (amount, currency) in enumerate(postings):
                _post(conn, entry_id, f"account:{index}", amount, currency)
            assert conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar() == 2, case

    with seeded_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar() == 1


def test_ledger_when_changed_in_place_is_rejected_as_append_only(
    seeded_engine: Engine,
) -> None:
    for statement in [
        "UPDATE ledger_postings SET amount = amount * 2",
        "DELETE FROM ledger_postings",
        "UPDATE ledger_entries SET description = 'edited'",
        "DELETE FROM ledger_entries",
        "TRUNCATE ledger_postings",
        "TRUNCATE ledger_entries CASCADE",
    ]:
        with (
            pytest.raises(IntegrityError, match="is append-only"),
            seeded_engine.begin() as conn,
        ):
            conn.execute(text(statement))

    with seeded_engine.connect() as conn:
        amounts = conn.execute(text("SELECT amount FROM ledger_postings ORDER BY amount"))
        assert [str(amount) for amount in amounts.scalars()] == ["-10.0000", "10.0000"]


def test_ledger_when_mistake_is_corrected_by_a_new_entry_commits(engine: Engine) -> None:
    with engine.begin() as conn:
        wrong = _entry(conn)
        _post(conn, wrong, "assets:cash", "100", "USD")
        _post(conn, wrong, "equity:contributions", "-100", "USD")
    with engine.begin() as conn:
        correction = _entry(conn, "CORRECTION", corrects=wrong)
        _post(conn, correction, "assets:cash", "-100", "USD")
        _post(conn, correction, "equity:contributions", "100", "USD")

    with engine.connect() as conn:
        balance = conn.execute(
            text("SELECT sum(amount) FROM ledger_postings WHERE account = 'assets:cash'")
        ).scalar()
    assert balance == 0


# ----------------------------------------------------------------------------- symbols and groups


def test_row_when_symbol_or_group_is_not_registered_is_rejected(
    seeded_engine: Engine,
) -> None:
    statements = {
        "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, volume, source)"
        " VALUES ('NOPE', '2024-01-02', 1, 1, 1, 1, 1, 0, 'csv')": "instrument_info",
        "INSERT INTO factor_exposures (symbol, as_of_date, value)"
        " VALUES ('NOPE', '2024-01-02', 1)": "instrument_info",
        "INSERT INTO instrument_metrics (symbol, as_of_date, period_type, source)"
        " VALUES ('NOPE', '2024-01-02', 'TTM', 'csv')": "instrument_info",
        "INSERT INTO portfolio_weights (portfolio_id, date, symbol, weight)"
        " VALUES (999, '2024-01-02', 'AAA', 1)": "portfolios",
        "INSERT INTO group_members (group_id, symbol, position)"
        " VALUES (999, 'AAA', 1)": "instrument_universe",
    }
    for statement, referenced in statements.items():
        with (
            pytest.raises(IntegrityError, match=f'(?s)foreign key.*"{referenced}"'),
            seeded_engine.begin() as conn,
        ):
            conn.execute(text(statement))


def test_symbol_when_renamed_cascades_to_prices(engine: Engine) -> None:
    with engine.begin() as conn:
        _instruments(conn, "FB")
        conn.execute(
            text(
                "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close,"
                " volume, source) VALUES ('FB', '2022-06-08', 1, 2, 1, 2, 2, 10, 'csv')"
            )
        )
        conn.execute(text("UPDATE instrument_info SET symbol = 'META' WHERE symbol = 'FB'"))
        symbol = conn.execute(text("SELECT symbol FROM market_data_ohlcv")).scalar_one()

    assert symbol == "META"


def test_group_member_when_position_is_taken_is_rejected_unless_deleted(engine: Engine) -> None:
    with engine.begin() as conn:
        _instruments(conn, "AAA", "BBB", "CCC")
        group_id = conn.execute(text("INSERT INTO groups (name) VALUES ('g') RETURNING id"))
        group_id = group_id.scalar_one()
        conn.execute(
            text("INSERT INTO group_members (group_id, symbol, position) VALUES (:g, 'AAA', 1)"),
            {"g": group_id},
        )

    with (
        pytest.raises(IntegrityError, match="ux_instrument_universe_member_position"),
        engine.begin() as conn,
    ):
        conn.execute(
            text("INSERT INTO group_members (group_id, symbol, position) VALUES (:g, 'BBB', 1)"),
            {"g": group_id},
        )
    with engine.begin() as conn:  # a soft-deleted member frees its rank
        conn.execute(text("UPDATE instrument_universe_member SET is_deleted = TRUE"))
        conn.execute(
            text("INSERT INTO group_members (group_id, symbol, position) VALUES (:g, 'CCC', 1)"),
            {"g": group_id},
        )
        live = conn.execute(text("SELECT symbol FROM group_members")).scalars().all()

    assert live == ["CCC"]


# ----------------------------------------------------------------------------- prices and orders


def test_daily_bar_when_inconsistent_is_rejected(seeded_engine: Engine) -> None:
    bars = {
        (10, 9, 8, 9.5, 100): "ck_prices_daily_high_is_highest",
        (10, 11, 10.5, 10.2, 100): "ck_prices_daily_low_is_lowest",
        (0, 11, 0, 10, 100): "ck_prices_daily_prices_positive",
        (10, 11, 9, 10, -1): "ck_prices_daily_volume_not_negative",
    }
    for (open_, high, low, close, volume), constraint in bars.items():
        with pytest.raises(IntegrityError, match=constraint), seeded_engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close,"
                    " volume, source) VALUES ('SPY', :d, :o, :h, :l, :c, :c, :v, 'csv')"
                ),
                {"d": DAY, "o": open_, "h": high, "l": low, "c": close, "v": volume},
            )


def test_order_when_field_is_outside_its_domain_is_rejected(seeded_engine: Engine) -> None:
    cases = [
        ("type", "STOP", "ck_orders_type"),
        ("status", "LOST", "ck_orders_status"),
        ("qty", "0", "ck_orders_qty_positive"),
        ("side", "HOLD", "ck_orders_side"),
    ]
    for column, value, constraint in cases:
        row = {"side": "BUY", "qty": "10", "type": "MOO", "status": "PENDING", column: value}
        with pytest.raises(IntegrityError, match=constraint), seeded_engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO orders (order_id, portfolio_id, date, symbol, side, qty, type,"
                    " status) VALUES (:o, 'main', :d, 'SPY', :side, :qty, :type, :status)"
                ),
                {"o": uuid.uuid4(), "d": DAY, **row},
            )


def test_global_universe_when_a_second_is_flagged_is_rejected_unless_deleted(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO instrument_universe (name, is_global) "
                "VALUES ('master', TRUE), ('old-master', FALSE)"
            )
        )
    with (
        pytest.raises(IntegrityError, match="ux_instrument_universe_one_global"),
        engine.begin() as conn,
    ):
        conn.execute(
            text("UPDATE instrument_universe SET is_global = TRUE WHERE name = 'old-master'")
        )
    with engine.begin() as conn:
        conn.execute(text("UPDATE instrument_universe SET is_deleted = TRUE WHERE name = 'master'"))
        conn.execute(
            text("UPDATE instrument_universe SET is_global = TRUE WHERE name = 'old-master'")
        )
        globals_ = (
            conn.execute(
                text("SELECT name FROM instrument_universe WHERE is_global AND NOT is_deleted")
            )
            .scalars()
            .all()
        )
    assert globals_ == ["old-master"]
