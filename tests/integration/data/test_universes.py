"""Universes, members and strategy assignments on real PostgreSQL, seen through SigmaQLab views."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.core.errors import DataError
from stocker.data import universes
from stocker.store.uow import SqlUnitOfWork

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG"]


@pytest.fixture
def registered(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO instrument_info (symbol, name) VALUES (:symbol, :symbol)"),
            [{"symbol": symbol} for symbol in SYMBOLS],
        )
    return engine


def _group_members(engine: Engine, name: str) -> list[tuple[str, int | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT gm.symbol, gm.position FROM group_members gm "
                "JOIN groups g ON g.id = gm.group_id WHERE g.name = :name "
                "ORDER BY gm.position NULLS LAST, gm.symbol"
            ),
            {"name": name},
        )
        return [(row.symbol, row.position) for row in rows]


def _scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_create_universe_with_ranked_symbols_shows_in_groups_views_in_order(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    created = universes.create_universe(
        uow, "screen_top", "value screen", symbols=["NVDA", "AAPL", "MSFT"], ranked=True
    )
    assert created.member_count == 3
    assert _group_members(registered, "screen_top") == [("NVDA", 1), ("AAPL", 2), ("MSFT", 3)]
    description = _scalar(registered, "SELECT description FROM groups WHERE name = 'screen_top'")
    assert description == "value screen"


def test_create_universe_when_name_taken_raises_naming_it(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "core")
    with pytest.raises(DataError, match="'core' already exists"):
        universes.create_universe(uow, "core")


def test_add_members_when_symbol_unknown_names_it_and_suggests_registering(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "core")
    expected = r"ZZZZ not in instrument_info; register it"
    with pytest.raises(DataError, match=expected):
        universes.add_members(uow, "core", ["AAPL", "ZZZZ"])
    assert universes.members(uow, "core") == []


def test_unknown_universe_error_names_it_and_lists_known_ones(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "core")
    expected = r"'nope' does not exist; known universes: core"
    with pytest.raises(DataError, match=expected):
        universes.members(uow, "nope")


def test_remove_then_add_member_revives_the_same_row(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    member_sql = "SELECT id FROM instrument_universe_member WHERE symbol = 'AAPL'"
    universes.create_universe(uow, "core", symbols=["AAPL", "MSFT"], ranked=False)
    member_id = _scalar(registered, member_sql)
    universes.remove_members(uow, "core", ["AAPL"])
    assert _group_members(registered, "core") == [("MSFT", None)]
    change = universes.add_members(uow, "core", ["AAPL"])
    revived_id = _scalar(registered, member_sql)
    assert change.revived == 1 and change.added == 0
    assert revived_id == member_id
    assert _group_members(registered, "core") == [("AAPL", None), ("MSFT", None)]


def test_add_members_ranked_appends_after_last_position_and_keeps_existing_ranks(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "core", symbols=["MSFT", "AAPL"], ranked=True)
    change = universes.add_members(uow, "core", ["GOOG", "MSFT", "AMZN"], ranked=True)
    assert (change.added, change.unchanged) == (2, 1)
    assert _group_members(registered, "core") == [
        ("MSFT", 1),
        ("AAPL", 2),
        ("GOOG", 3),
        ("AMZN", 4),
    ]


def test_set_members_reorders_and_soft_deletes_unlisted(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "core", symbols=["AAPL", "MSFT", "NVDA"], ranked=True)
    change = universes.set_members(uow, "core", ["NVDA", "AAPL", "GOOG"])
    assert (change.added, change.removed, change.repositioned, change.unchanged) == (1, 1, 2, 0)
    assert _group_members(registered, "core") == [("NVDA", 1), ("AAPL", 2), ("GOOG", 3)]
    deleted = _scalar(
        registered, "SELECT is_deleted FROM instrument_universe_member WHERE symbol = 'MSFT'"
    )
    assert deleted is True


def test_remove_members_when_symbol_not_member_raises(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "core", symbols=["AAPL"])
    expected = "MSFT not a member of universe 'core'"
    with pytest.raises(DataError, match=expected):
        universes.remove_members(uow, "core", ["MSFT"])


def test_set_global_keeps_exactly_one_global_universe(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "first", is_global=True)
    universes.create_universe(uow, "second")
    universes.set_global(uow, "second")
    with registered.connect() as conn:
        flags = dict(
            conn.execute(text("SELECT name, is_global FROM instrument_universe")).fetchall()
        )
    assert universes.global_universe(uow).name == "second"  # type: ignore[union-attr]
    assert flags == {"first": False, "second": True}
    universes.create_universe(uow, "third", is_global=True)
    count = _scalar(registered, "SELECT count(*) FROM instrument_universe WHERE is_global")
    assert count == 1


def test_rename_universe_moves_name_and_refuses_taken_names(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "old", symbols=["AAPL"])
    universes.create_universe(uow, "other")
    renamed = universes.rename_universe(uow, "old", "new")
    assert renamed.name == "new" and renamed.member_count == 1
    with pytest.raises(DataError, match="'other' is already used"):
        universes.rename_universe(uow, "new", "other")


def test_delete_universe_when_assigned_to_strategy_refuses_until_reassigned(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "core", symbols=["AAPL"])
    universes.create_universe(uow, "backup")
    assert universes.assign_strategy(uow, "trend_v1", "core") is None
    expected = "assigned to strategy trend_v1; reassign it first"
    with pytest.raises(DataError, match=expected):
        universes.delete_universe(uow, "core")
    assert universes.assign_strategy(uow, "trend_v1", "backup") == "core"
    universes.delete_universe(uow, "core")
    assignments = universes.strategy_assignments(uow)
    assert [(a.strategy_id, a.universe) for a in assignments] == [("trend_v1", "backup")]
    assert _group_members(registered, "core") == []
    with registered.connect() as conn:
        names = [row[0] for row in conn.execute(text("SELECT name FROM groups"))]
    assert [u.name for u in universes.list_universes(uow)] == ["backup"]
    assert names == ["backup"]


def test_create_universe_with_deleted_name_revives_it_empty(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    first = universes.create_universe(uow, "core", symbols=["AAPL", "MSFT"])
    universes.delete_universe(uow, "core")
    again = universes.create_universe(uow, "core", "second life")
    assert again.id == first.id
    assert again.member_count == 0 and again.description == "second life"


def test_universe_use_case_when_it_fails_writes_nothing(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    with pytest.raises(DataError, match="ZZZZ"):
        universes.create_universe(uow, "core", symbols=["AAPL", "ZZZZ"])
    assert _scalar(registered, "SELECT count(*) FROM instrument_universe") == 0


def test_universe_cli_create_add_show_and_errors(registered: Engine, app: App) -> None:
    from stocker.cli import app as cli

    runner = CliRunner()
    created = runner.invoke(cli, ["universe", "create", "tech", "--symbols", "nvda,aapl"], obj=app)
    assert created.exit_code == 0, created.output
    added = runner.invoke(cli, ["universe", "add", "tech", "MSFT", "--ranked"], obj=app)
    assert added.exit_code == 0, added.output
    shown = runner.invoke(cli, ["universe", "show", "tech"], obj=app)
    assert shown.exit_code == 0, shown.output
    assert shown.output.index("NVDA") < shown.output.index("AAPL") < shown.output.index("MSFT")
    unknown = runner.invoke(cli, ["universe", "add", "tech", "QQQQ"], obj=app)
    assert unknown.exit_code == 2
    assert "QQQQ" in unknown.output
    assigned = runner.invoke(cli, ["universe", "assign-strategy", "trend", "tech"], obj=app)
    assert assigned.exit_code == 0, assigned.output
    refused = runner.invoke(cli, ["universe", "delete", "tech"], obj=app)
    assert refused.exit_code == 2 and "trend" in refused.output
    listed = runner.invoke(cli, ["universe", "strategies"], obj=app)
    assert "trend" in listed.output and "tech" in listed.output
    assert _group_members(registered, "tech") == [("NVDA", 1), ("AAPL", 2), ("MSFT", 3)]
