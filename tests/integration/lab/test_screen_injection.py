"""Mutated screens against a real database: whatever a user types either fails to parse before
any statement is sent, or reaches PostgreSQL as catalogue names and bound parameters only."""

from __future__ import annotations

import datetime as dt
import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.pool import NullPool

from stocker.core.screener import FIELDS, Compare, InList, Logic, Node, Not, ScreenError, parse
from stocker.lab.screener import screen
from stocker.store.db import make_engine
from stocker.store.uow import SqlUnitOfWork

_spec = importlib.util.spec_from_file_location(
    "screen_data", Path(__file__).with_name("screen_data.py")
)
assert _spec and _spec.loader
screen_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(screen_data)  # the helper, by path: tests are not a package

DAY = dt.date(2024, 1, 31)
VALID = [
    'pe < 20 and roe > 0.15 and sector in ("Technology", "Health Care") '
    "order by composite_score desc limit 30",
    "sector = 'Energy' or (beta between 0.5 and 1.5 and not volatility > 0.4)",
    "name != 'x' and symbol not in ('AAA', 'BBB') order by pe asc",
]
FRAGMENTS = ["'", '"', ";", "--", "/*", "(", ")", ",", " or 1=1", "'; drop table instrument_info;",
             "pg_sleep(1)", "\\", "$$", "::text", " union select 1", "#"]  # fmt: skip


@pytest.fixture(scope="module")
def small_db(server_url: str, template_database: str) -> Iterator[Engine]:
    name = f"stocker_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    engine = make_engine(
        make_url(server_url).set(database=name).render_as_string(hide_password=False)
    )
    screen_data.add_instruments(engine, [{"symbol": "AAA", "sector": "Energy"}])
    screen_data.add_fundamentals(engine, [{"symbol": "AAA", "as_of_date": DAY, "pe": 5.0}])
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _literals(node: Node | None) -> list[Any]:
    if node is None:
        return []
    if isinstance(node, Logic):
        return _literals(node.left) + _literals(node.right)
    if isinstance(node, Not):
        return _literals(node.operand)
    if isinstance(node, Compare):
        return [node.value]
    if isinstance(node, InList):
        return list(node.values)
    return []


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.sampled_from(VALID),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(FRAGMENTS) | st.text(max_size=3), st.booleans()),
        min_size=1,
        max_size=3,
    ),
)
def test_screen_when_a_valid_screen_is_mutated_sends_nothing_or_only_bound_values(
    small_db: Engine, base: str, edits: list[tuple[float, str, bool]]
) -> None:
    expression = base
    for where, fragment, replace in edits:
        at = int(where * len(expression))
        rest = expression[at + len(fragment) :] if replace else expression[at:]
        expression = expression[:at] + fragment + rest
    sent: list[tuple[str, Any]] = []

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        sent.append((statement, parameters))

    event.listen(small_db, "before_cursor_execute", listener)
    try:
        screen(SqlUnitOfWork(small_db), expression, day=DAY)
    except ScreenError:
        hypothesis_event("refused")
        assert sent == [], expression
        return
    finally:
        event.remove(small_db, "before_cursor_execute", listener)

    hypothesis_event("ran")
    statement, parameters = next((s, p) for s, p in sent if "screened" in s)
    for value in _literals(parse(expression).where):
        assert value in parameters.values()
        if isinstance(value, str) and len(value) > 2:
            assert f"'{value}'" not in statement
            assert value in FIELDS or f'"{value}"' not in statement
    with small_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM instrument_info")).scalar_one() == 1
