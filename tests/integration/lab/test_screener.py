"""The screener against a stored data set: hypothesis-generated filters equal the same filter in
pandas, nothing dated after the day changes a result, the database sees only bound parameters,
and a screen saved as a group keeps its order (rule 5) and refuses symbols without a sector
(rule 1)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.pool import NullPool

from stocker.core.errors import DataError
from stocker.core.screener import FIELDS, ScreenError
from stocker.data.universes import create_universe, members
from stocker.lab.screener import save_group, screen, screen_to_group
from stocker.store.db import make_engine
from stocker.store.uow import SqlUnitOfWork

data = __import__("importlib.util").util
_spec = data.spec_from_file_location("screen_data", Path(__file__).with_name("screen_data.py"))
screen_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(screen_data)  # the helper, by path: tests are not a package

DAY = dt.date(2024, 3, 29)
SECTORS = ["Technology", "Health Care", "Financials", "Energy"]
NUMBERS = [name for name, info in FIELDS.items() if info.type == "number"]
TEXTS = ["sector", "industry", "symbol", "exchange"]


def _dataset(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Instruments, fundamentals (two past snapshots, one future), factors and risk (past and
    future dates); some values missing, some symbols without fundamentals or factors."""
    rng = random.Random(seed)
    symbols = [f"S{n:02d}" for n in range(18)]

    def number(low: float, high: float) -> float | None:
        return None if rng.random() < 0.12 else round(rng.uniform(low, high), 2)

    instruments = [
        {
            "symbol": s,
            "name": f"Company {s}",
            "sector": None if n == 5 else SECTORS[n % 4],
            "industry": f"Industry {n % 3}",
            "exchange": "NYSE" if n % 2 else "NASDAQ",
        }
        for n, s in enumerate(symbols)
    ]
    fundamentals = []
    for n, s in enumerate(symbols):
        if n in (3, 11):
            continue
        dates = (
            ["2024-01-15", "2024-03-01", "2024-04-15"] if n % 3 else ["2024-02-10", "2024-05-01"]
        )
        for date in dates:
            row: dict[str, Any] = {"symbol": s, "as_of_date": date}
            for name in NUMBERS:
                if FIELDS[name].source != "fundamentals":
                    continue
                high = 100.0 if name.endswith("holding") else 40.0
                row[name] = number(0.0 if name.endswith("holding") else -5.0, high)
            if n % 5 == 1:
                row["sector"] = SECTORS[(n + 1) % 4]  # the snapshot's own classification
            fundamentals.append(row)
    factors, risk = [], []
    for date in ("2024-02-29", "2024-03-28", "2024-04-30"):
        for n, s in enumerate(symbols):
            if n in (7,) or (date == "2024-03-28" and n == 9):
                continue
            factors.append(
                {"symbol": s, "as_of_date": date}
                | {c: number(-3, 3) for c in screen_data.FACTOR_COLUMNS}
            )
    for date in ("2024-03-15", "2024-04-30"):
        for s in symbols[:-2]:
            row = {"symbol": s, "as_of_date": date} | {
                c: number(-2, 2) for c in screen_data.RISK_COLUMNS
            }
            row["volatility"] = number(0.05, 0.9)
            risk.append(row)
    return {
        "instruments": instruments,
        "fundamentals": fundamentals,
        "factors": factors,
        "risk": risk,
    }


def _expected_frame(dataset: dict[str, list[dict[str, Any]]], day: dt.date) -> pd.DataFrame:
    """The one-row-per-symbol view as of `day`, built in pandas from the raw rows."""
    instruments = pd.DataFrame(dataset["instruments"]).set_index("symbol")
    frames = {}
    for key in ("fundamentals", "factors", "risk"):
        rows = pd.DataFrame(dataset[key])
        rows["as_of_date"] = pd.to_datetime(rows["as_of_date"]).dt.date
        rows = rows[rows["as_of_date"] <= day]
        if key == "fundamentals":
            rows = rows.sort_values("as_of_date").groupby("symbol").tail(1)
        else:
            rows = rows[rows["as_of_date"] == rows["as_of_date"].max()]
        frames[key] = rows.set_index("symbol")
    present = sorted(set().union(*(frame.index for frame in frames.values())))
    out = pd.DataFrame(index=pd.Index(present, name="symbol"))
    fundamentals = frames["fundamentals"]
    for name, info in FIELDS.items():
        source = frames.get(info.source)
        if info.source == "instrument":
            out[name] = instruments[name].reindex(present) if name != "symbol" else present
        elif info.source == "sentiment":
            out[name] = np.nan  # this dataset has no news
        elif name in ("sector", "industry"):
            own = fundamentals[name] if name in fundamentals else pd.Series(dtype=object)
            out[name] = own.reindex(present).combine_first(instruments[name].reindex(present))
        else:
            assert source is not None
            out[name] = source[name].reindex(present).astype("float64")
    return out.reset_index(drop=True)


def _kleene(frame: pd.DataFrame, name: str) -> Any:
    column = frame[name]
    if FIELDS[name].type == "number":
        return pd.array(column.to_numpy(dtype="float64"), dtype="Float64")
    return _Text(column)


class _Text:
    """A text column whose = and != give SQL's three-valued answer (NULL stays unknown)."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, column: pd.Series) -> None:
        self.values = [None if pd.isna(v) else str(v) for v in column]

    def __eq__(self, other: object) -> Any:  # type: ignore[override]
        return pd.array([None if v is None else v == other for v in self.values], dtype="boolean")

    def __ne__(self, other: object) -> Any:  # type: ignore[override]
        return ~(self == other)


Oracle = Callable[[pd.DataFrame], Any]


def _literal(value: float | str) -> str:
    return repr(value) if isinstance(value, float) else f'"{value}"'


@st.composite
def _predicate(draw: st.DrawFn, values: dict[str, list[Any]]) -> tuple[str, Oracle]:
    name = draw(st.sampled_from(NUMBERS + TEXTS))
    pool = values[name]
    kind = draw(st.sampled_from(["compare", "in", "between", "null"]))
    if kind == "null":
        negated = draw(st.booleans())
        text_ = f"{name} is {'not ' if negated else ''}null"
        return text_, lambda f: pd.array(
            f[name].notna() if negated else f[name].isna(), dtype="boolean"
        )
    if kind == "in" or (kind == "between" and FIELDS[name].type == "text"):
        listed = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
        negated = draw(st.booleans())

        def member(f: pd.DataFrame) -> Any:
            column = _kleene(f, name)
            found = column == listed[0]
            for value in listed[1:]:
                found = found | (column == value)
            return ~found if negated else found

        joined = ", ".join(map(_literal, listed))
        return f"{name} {'not ' if negated else ''}in ({joined})", member
    if kind == "between":
        low, high = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        negated = draw(st.booleans())

        def between(f: pd.DataFrame) -> Any:
            column = _kleene(f, name)
            inside = (column >= low) & (column <= high)
            return ~inside if negated else inside

        keyword = "not between" if negated else "between"
        return f"{name} {keyword} {_literal(low)} and {_literal(high)}", between
    ops = (
        ["<", "<=", ">", ">=", "=", "!=", "<>"]
        if FIELDS[name].type == "number"
        else ["=", "!=", "<>"]
    )
    op = draw(st.sampled_from(ops))
    value = draw(st.sampled_from(pool))
    compare = {
        "<": lambda c: c < value, "<=": lambda c: c <= value, ">": lambda c: c > value,
        ">=": lambda c: c >= value, "=": lambda c: c == value, "!=": lambda c: c != value,
        "<>": lambda c: c != value,
    }[op]  # fmt: skip
    return f"{name} {op} {_literal(value)}", lambda f: compare(_kleene(f, name))


def _filters(values: dict[str, list[Any]]) -> st.SearchStrategy[tuple[str, Oracle]]:
    def extend(children: st.SearchStrategy[tuple[str, Oracle]]) -> st.SearchStrategy[Any]:
        both = st.tuples(children, children)
        return st.one_of(
            both.map(lambda p: (f"{p[0][0]} and {p[1][0]}", lambda f: p[0][1](f) & p[1][1](f))),
            both.map(lambda p: (f"({p[0][0]} or {p[1][0]})", lambda f: p[0][1](f) | p[1][1](f))),
            children.map(lambda c: (f"not ({c[0]})", lambda f: ~c[1](f))),
        )

    return st.recursive(_predicate(values), extend, max_leaves=5)


@pytest.fixture(scope="module")
def stored(server_url: str, template_database: str) -> Iterator[tuple[Engine, dict[str, Any]]]:
    """One migrated database holding `_dataset()`, shared by the read-only tests."""
    name = f"stocker_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    engine = make_engine(
        make_url(server_url).set(database=name).render_as_string(hide_password=False)
    )
    dataset = _dataset()
    _store(engine, dataset)
    yield engine, dataset
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _store(engine: Engine, dataset: dict[str, list[dict[str, Any]]]) -> None:
    screen_data.add_instruments(engine, dataset["instruments"])
    screen_data.add_fundamentals(engine, dataset["fundamentals"])
    screen_data.add_factors(engine, dataset["factors"])
    screen_data.add_risk(engine, dataset["risk"])


def _pools(expected: pd.DataFrame) -> dict[str, list[Any]]:
    pools: dict[str, list[Any]] = {}
    for name in NUMBERS:
        seen = sorted(float(v) for v in expected[name].dropna().unique())
        pools[name] = [*seen[:: max(1, len(seen) // 6)], 0.0, -1.5, 20.0]
    for name in TEXTS:
        pools[name] = [*sorted(expected[name].dropna().unique().tolist())[:6], "Nope"]
    return pools


EXPECTED = _expected_frame(_dataset(), DAY)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chosen=_filters(_pools(EXPECTED)),
    keys=st.lists(
        st.tuples(st.sampled_from(NUMBERS), st.booleans()), max_size=2, unique_by=lambda k: k[0]
    ),
    limit=st.none() | st.integers(1, 20),
)
def test_screen_when_filters_are_generated_equals_the_same_filter_in_pandas(
    stored: tuple[Engine, dict[str, Any]],
    chosen: tuple[str, Oracle],
    keys: list[tuple[str, bool]],
    limit: int | None,
) -> None:
    engine, _ = stored
    expression, oracle = chosen
    if keys:
        expression += " order by " + ", ".join(f"{k} {'desc' if d else 'asc'}" for k, d in keys)
    if limit is not None:
        expression += f" limit {limit}"

    result = screen(SqlUnitOfWork(engine), expression, day=DAY)

    mask = np.asarray(pd.array(oracle(EXPECTED), dtype="boolean").fillna(False), dtype=bool)
    expected = EXPECTED[mask]
    expected = expected.sort_values(
        [k for k, _ in keys] + ["symbol"],
        ascending=[not d for _, d in keys] + [True],
        na_position="last",
        kind="mergesort",
    )
    if limit is not None:
        expected = expected.head(limit)
    hypothesis_event(f"rows: {min(len(expected), 3)}")
    assert result.symbols == expected["symbol"].tolist(), expression
    got = result.rows.set_index("symbol")[NUMBERS]
    pd.testing.assert_frame_equal(
        got, expected.set_index("symbol")[NUMBERS], check_dtype=False, check_index_type=False
    )
    sectors = [None if pd.isna(s) else s for s in expected["sector"]]
    assert [None if pd.isna(s) else s for s in result.rows["sector"]] == sectors


def test_screen_when_the_example_of_the_issue_is_run_returns_ranked_rows(
    stored: tuple[Engine, dict[str, Any]],
) -> None:
    engine, _ = stored
    expression = (
        'pe < 20 and roe > 0.15 and sector in ("Technology", "Health Care") '
        "order by composite_score desc limit 30"
    )
    result = screen(SqlUnitOfWork(engine), expression, day=DAY)

    chosen = EXPECTED[
        (EXPECTED.pe < 20)
        & (EXPECTED.roe > 0.15)
        & EXPECTED.sector.isin(["Technology", "Health Care"])
    ]
    ordered = chosen.sort_values(
        ["composite_score", "symbol"], ascending=[False, True], na_position="last"
    )
    assert result.symbols == ordered["symbol"].tolist()
    assert result.rows["rank"].tolist() == list(range(1, len(ordered) + 1))
    assert result.columns == ["rank", "symbol", "sector", "pe", "roe", "composite_score"]
    assert result.as_of == {
        "fundamentals": dt.date(2024, 3, 1),
        "factors": dt.date(2024, 3, 28),
        "risk": dt.date(2024, 3, 15),
    }


def test_screen_when_rows_after_the_day_change_returns_the_same_result(engine: Engine) -> None:
    dataset = _dataset()
    _store(engine, dataset)
    expression = "composite_score > -1 or pe < 15 order by momentum desc, symbol asc"
    before = screen(SqlUnitOfWork(engine), expression, day=DAY).rows

    later = [dict(row, as_of_date="2024-03-30") for row in dataset["fundamentals"][:6]]
    for row in later:
        row.update(pe=1.0, sector="Utilities")
    screen_data.add_fundamentals(engine, later)  # a restatement known after the day
    future = [r for r in dataset["factors"] if r["as_of_date"] > "2024-03-29"]
    screen_data.add_factors(engine, [dict(r, composite_score=5.0, momentum=-9.0) for r in future])
    screen_data.add_factors(engine, [dict(r, as_of_date="2024-03-30") for r in future])
    screen_data.add_risk(
        engine, [dict(r, as_of_date="2024-03-30", beta=4.0) for r in dataset["risk"]]
    )
    after = screen(SqlUnitOfWork(engine), expression, day=DAY).rows

    pd.testing.assert_frame_equal(before, after)
    moved = screen(SqlUnitOfWork(engine), expression, day=dt.date(2024, 3, 30)).rows
    assert not moved.equals(before)


INJECTIONS = [
    "sector = 'x'; DROP TABLE instrument_info",
    "sector = 'x' -- comment",
    "sector = 'x' /* c */",
    "pe < 20 or 1=1",
    'sector = "a" or "1"="1"',
    "pg_sleep(1) > 0",
    "lower(sector) = 'x'",
    "pe < (select 1)",
    "symbol = 'A' union select * from api_keys",
    "instrument_info.symbol = 'A'",
    '"pe" < 20',
    "pe < 20 limit 1; delete from instrument_info",
    "sector = 'O''Reilly'",
]


@pytest.mark.parametrize("expression", INJECTIONS)
def test_screen_when_given_an_injection_attempt_refuses_it_before_the_database(
    stored: tuple[Engine, dict[str, Any]], expression: str
) -> None:
    engine, _ = stored
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        with pytest.raises(ScreenError) as caught:
            screen(SqlUnitOfWork(engine), expression, day=DAY)
    finally:
        event.remove(engine, "before_cursor_execute", listener)

    assert seen == []
    assert "^" in str(caught.value)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sector=st.text(
        alphabet=st.characters(blacklist_characters='"\n', blacklist_categories=["Cs", "Cc"]),
        max_size=30,
    ),
    number=st.floats(allow_nan=False, allow_infinity=False, width=32),
)
def test_screen_when_literals_are_arbitrary_sends_them_only_as_bound_parameters(
    stored: tuple[Engine, dict[str, Any]], sector: str, number: float
) -> None:
    """The SQL text is the same whatever the literals are (they travel only as parameters);
    comparing texts, not searching one for the literal, since a short literal such as "TRUE" or
    "oper" can occur in the fixed SQL by chance."""
    engine, _ = stored

    def screened_statement(expression: str) -> tuple[str, Any]:
        captured: list[tuple[str, Any]] = []

        def listener(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
            captured.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", listener)
        try:
            screen(SqlUnitOfWork(engine), expression, day=DAY)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return next((s, p) for s, p in captured if "screened" in s)

    reference, _ = screened_statement('sector = "reference sector" or pe > 12.5')
    statement, parameters = screened_statement(f'sector = "{sector}" or pe > {number!r}')

    assert sector in parameters.values() and float(number) in parameters.values()
    assert statement == reference


def test_save_group_when_saved_keeps_the_screen_order_as_positions(engine: Engine) -> None:
    _store(engine, _dataset())
    uow = SqlUnitOfWork(engine)
    expression = (
        "sector is not null and composite_score is not null order by composite_score desc limit 8"
    )

    result, group = screen_to_group(uow, expression, day=DAY, group="top_quality")

    assert group.member_count == len(result.symbols) == 8
    stored_members = members(uow, "top_quality")
    assert [m.symbol for m in stored_members] == result.symbols
    assert [m.position for m in stored_members] == list(range(1, 9))
    with engine.connect() as conn:
        by_view = (
            conn.execute(
                text("SELECT symbol FROM group_members WHERE group_id = :g ORDER BY position"),
                {"g": group.id},
            )
            .scalars()
            .all()
        )
    assert list(by_view) == result.symbols


def test_save_group_when_the_group_exists_replaces_only_when_asked(engine: Engine) -> None:
    _store(engine, _dataset())
    uow = SqlUnitOfWork(engine)
    first = screen(uow, "sector is not null order by pe asc limit 3", day=DAY)
    second = screen(uow, "sector is not null order by pe desc limit 4", day=DAY)
    save_group(uow, "value", first)

    with pytest.raises(DataError, match="already exists"):
        save_group(uow, "value", second)
    replaced = save_group(uow, "value", second, replace=True)

    assert replaced.member_count == 4
    assert [m.symbol for m in members(uow, "value")] == second.symbols


def test_save_group_when_a_symbol_has_no_sector_names_it_and_saves_nothing(engine: Engine) -> None:
    _store(engine, _dataset())
    uow = SqlUnitOfWork(engine)
    result = screen(uow, 'symbol in ("S05", "S06") order by symbol asc', day=DAY)
    assert result.symbols == ["S05", "S06"]

    with pytest.raises(DataError, match=r"rule 11\.10\.1.*no sector: S05") as caught:
        save_group(uow, "broken", result)
    assert "S06" not in str(caught.value)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM groups")).scalar_one() == 0


def test_screen_when_a_universe_is_given_keeps_only_its_members(engine: Engine) -> None:
    _store(engine, _dataset())
    uow = SqlUnitOfWork(engine)
    create_universe(uow, "mine", symbols=["S01", "S02", "S04"])

    result = screen(uow, "pe > -100 or pe is null order by symbol desc", day=DAY, universe="mine")

    assert result.symbols == ["S04", "S02", "S01"]
    with pytest.raises(DataError, match="does not exist"):
        screen(uow, "pe > 0", day=DAY, universe="nope")
