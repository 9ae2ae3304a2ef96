"""Property: after any sequence of upserts the table equals the last-write-wins merge of the inputs,
and each upsert's counts match what the merge says changed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from stocker.store.bulk import upsert

NOTE_CHARACTERS = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))

VALUE_COLUMNS = ("amount", "qty", "note", "ratio")
Key = tuple[str, dt.date]


@pytest.fixture
def scratch(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE merge_scratch ("
                " id BIGSERIAL PRIMARY KEY, k1 VARCHAR(5) NOT NULL, k2 DATE NOT NULL,"
                " amount NUMERIC(10, 2), qty BIGINT, note TEXT, ratio DOUBLE PRECISION,"
                " created_at TIMESTAMPTZ DEFAULT NOW(), updated_at TIMESTAMPTZ,"
                " UNIQUE (k1, k2))"
            )
        )
    return engine


rows_strategy = st.fixed_dictionaries(
    {
        "k1": st.sampled_from(["a", "b", 'c"', "d,e"]),
        "k2": st.dates(dt.date(2024, 1, 1), dt.date(2024, 1, 6)),
        "amount": st.none()
        | st.decimals(min_value=-99_999_999, max_value=99_999_999, places=2, allow_nan=False),
        "qty": st.none() | st.integers(-(2**53), 2**53),
        # text PostgreSQL can store: no NUL, no lone surrogates (rejections are tested elsewhere)
        "note": st.none() | st.text(NOTE_CHARACTERS, max_size=6),
        "ratio": st.none()
        | st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False, allow_subnormal=False),
    }
)
batch_strategy = st.lists(rows_strategy, max_size=8, unique_by=lambda row: (row["k1"], row["k2"]))


def as_input(rows: list[dict[str, Any]], as_frame: bool) -> pd.DataFrame | list[dict[str, Any]]:
    if not as_frame:
        return rows
    frame = pd.DataFrame(rows, columns=["k1", "k2", *VALUE_COLUMNS])
    # Keep None distinct from "" in text and exact in numbers, as a loader's frame would.
    return frame.astype({"note": object, "amount": object, "qty": object})


def stored(engine: Engine) -> dict[Key, tuple[Any, ...]]:
    with engine.connect() as conn:
        result = conn.execute(text("SELECT k1, k2, amount, qty, note, ratio FROM merge_scratch"))
        return {(row[0], row[1]): tuple(row[2:]) for row in result}


def normalized(row: dict[str, Any]) -> tuple[Any, ...]:
    amount = None if row["amount"] is None else Decimal(row["amount"]).quantize(Decimal("0.01"))
    return (amount, row["qty"], row["note"], row["ratio"])


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.tuples(batch_strategy, st.booleans()), min_size=1, max_size=4))
def test_upsert_sequence_equals_last_write_wins_merge(
    scratch: Engine, batches: list[tuple[list[dict[str, Any]], bool]]
) -> None:
    with scratch.begin() as conn:
        conn.execute(text("TRUNCATE merge_scratch"))
    expected: dict[Key, tuple[Any, ...]] = {}

    for rows, as_frame in batches:
        new = {(row["k1"], row["k2"]): normalized(row) for row in rows}
        inserted = sum(1 for key in new if key not in expected)
        updated = sum(
            1 for key, values in new.items() if key in expected and expected[key] != values
        )
        with scratch.begin() as conn:
            result = upsert(conn, "merge_scratch", as_input(rows, as_frame))
        expected.update(new)

        assert (result.inserted, result.updated) == (inserted, updated)
        assert result.unchanged == len(rows) - inserted - updated
        assert stored(scratch) == expected
