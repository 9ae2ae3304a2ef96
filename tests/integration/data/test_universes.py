"""Universes, members and strategy assignments on real PostgreSQL, seen through SigmaQLab views."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.core.errors import DataError
from stocker.data import universes
from stocker.data.instruments import upsert_instruments

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG"]


@pytest.fixture
def registered(engine: Engine) -> Engine:
    with engine.begin() as conn:
        upsert_instruments(conn, [{"symbol": symbol, "name": symbol} for symbol in SYMBOLS])
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


def test_create_universe_with_ranked_symbols_shows_in_groups_views_in_order(
    registered: Engine,
) -> None:
    with registered.begin() as conn:
        created = universes.create_universe(
            conn, "screen_top", "value screen", symbols=["NVDA", "AAPL", "MSFT"], ranked=True
        )
    assert created.member_count == 3
    assert _group_members(registered, "screen_top") == [("NVDA", 1), ("AAPL", 2), ("MSFT", 3)]
    with registered.connect() as conn:
        description = conn.execute(
            text("SELECT description FROM groups WHERE name = 'screen_top'")
        ).scalar_one()
    assert description == "value screen"


def test_create_universe_when_name_taken_raises_naming_it(registered: Engine) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "core")
    with pytest.raises(DataError, match="'core' already exists"), registered.begin() as conn:
        universes.create_universe(conn, "core")


def test_add_members_when_symbol_unknown_names_it_and_suggests_registering(
    registered: Engine,
) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "core")
    expected = r"ZZZZ not in instrument_info; register it"
    with pytest.raises(DataError, match=expected), registered.begin() as conn:
        universes.add_members(conn, "core", ["AAPL", "ZZZZ"])
    with registered.connect() as conn:
        assert universes.members(conn, "core") == []


def test_unknown_universe_error_names_it_and_lists_known_ones(registered: Engine) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "core")
    expected = r"'nope' does not exist; known universes: core"
    with pytest.raises(DataError, match=expected), registered.connect() as conn:
        universes.members(conn, "nope")


def test_remove_then_add_member_revives_the_same_row(registered: Engine) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "core", symbols=["AAPL", "MSFT"], ranked=False)
        member_id = conn.execute(
            text("SELECT id FROM instrument_universe_member WHERE symbol = 'AAPL'")
        ).scalar_one()
        universes.remove_members(conn, "core", ["AAPL"])
    assert _group_members(registered, "core") == [("MSFT", None)]
    with registered.begin() as conn:
        change = universes.add_members(conn, "core", ["AAPL"])
        revived_id = conn.execute(
            text("SELECT id FROM instrument_universe_member WHERE symbol = 'AAPL'")
        ).scalar_one()
    assert change.revived == 1 and change.added == 0
    assert revived_id == member_id
    assert _group_members(registered, "core") == [("AAPL", None), ("MSFT", None)]


def test_add_members_ranked_appends_after_last_position_and_keeps_existing_ranks(
    registered: Engine,
) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "core", symbols=["MSFT", "AAPL"], ranked=True)
        change = universes.add_members(conn, "core", ["GOOG", "MSFT", "AMZN"], ranked=True)
    assert (change.added, change.unchanged) == (2, 1)
    assert _group_members(registered, "core") == [
        ("MSFT", 1),
        ("AAPL", 2),
        ("GOOG", 3),
        ("AMZN", 4),
    ]


def test_set_members_reorders_and_soft_deletes_unlisted(registered: Engine) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "core", symbols=["AAPL", "MSFT", "NVDA"], ranked=True)
        change = universes.set_members(conn, "core", ["NVDA", "AAPL", "GOOG"])
    assert (change.added, change.removed, change.repositioned, change.unchanged) == (1, 1, 2, 0)
    assert _group_members(registered, "core") == [("NVDA", 1), ("AAPL", 2), ("GOOG", 3)]
    with registered.connect() as conn:
        deleted = conn.execute(
            text("SELECT is_deleted FROM instrument_universe_member WHERE symbol = 'MSFT'")
        ).scalar_one()
    assert deleted is True


def test_remove_members_when_symbol_not_member_raises(registered: Engine) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "core", symbols=["AAPL"])
    expected = "MSFT not a member of universe 'core'"
    with pytest.raises(DataError, match=expected), registered.begin() as conn:
        universes.remove_members(conn, "core", ["MSFT"])


def test_set_global_keeps_exactly_one_global_universe(registered: Engine) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "first", is_global=True)
        universes.create_universe(conn, "second")
        universes.set_global(conn, "second")
    with registered.connect() as conn:
        flags = dict(
            conn.execute(text("SELECT name, is_global FROM instrument_universe")).fetchall()
        )
        assert universes.global_universe(conn).name == "second"  # type: ignore[union-attr]
    assert flags == {"first": False, "second": True}
    with registered.begin() as conn:
        universes.create_universe(conn, "third", is_global=True)
        count = conn.execute(
            text("SELECT count(*) FROM instrument_universe WHERE is_global")
        ).scalar_one()
    assert count == 1


def test_rename_universe_moves_name_and_refuses_taken_names(registered: Engine) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "old", symbols=["AAPL"])
        universes.create_universe(conn, "other")
        renamed = universes.rename_universe(conn, "old", "new")
    assert renamed.name == "new" and renamed.member_count == 1
    with pytest.raises(DataError, match="'other' is already used"), registered.begin() as conn:
        universes.rename_universe(conn, "new", "other")


def test_delete_universe_when_assigned_to_strategy_refuses_until_reassigned(
    registered: Engine,
) -> None:
    with registered.begin() as conn:
        universes.create_universe(conn, "core", symbols=["AAPL"])
        universes.create_universe(conn, "backup")
        assert universes.assign_strategy(conn, "trend_v1", "core") is None
    expected = "assigned to strategy trend_v1; reassign it first"
    with pytest.raises(DataError, match=expected), registered.begin() as conn:
        universes.delete_universe(conn, "core")
    with registered.begin() as conn:
        assert universes.assign_strategy(conn, "trend_v1", "backup") == "core"
        universes.delete_universe(conn, "core")
        assignments = universes.strategy_assignments(conn)
    assert [(a.strategy_id, a.universe) for a in assignments] == [("trend_v1", "backup")]
    assert _group_members(registered, "core") == []
    with registered.connect() as conn:
        names = [row[0] for row in conn.execute(text("SELECT name FROM groups"))]
        assert [u.name for u in universes.list_universes(conn)] == ["backup"]
    assert names == ["backup"]


def test_create_universe_with_deleted_name_revives_it_empty(registered: Engine) -> None:
    with registered.begin() as conn:
        first = universes.create_universe(conn, "core", symbols=["AAPL", "MSFT"])
        universes.delete_universe(conn, "core")
        again = universes.create_universe(conn, "core", "second life")
    assert again.id == first.id
    assert again.member_count == 0 and again.description == "second life"


def test_universe_cli_create_add_show_and_errors(
    registered: Engine, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stocker.cli import app
    from stocker.config import get_settings

    monkeypatch.setenv("STOCKER_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        created = runner.invoke(app, ["universe", "create", "tech", "--symbols", "nvda,aapl"])
        assert created.exit_code == 0, created.output
        added = runner.invoke(app, ["universe", "add", "tech", "MSFT", "--ranked"])
        assert added.exit_code == 0, added.output
        shown = runner.invoke(app, ["universe", "show", "tech"])
        assert shown.exit_code == 0, shown.output
        assert shown.output.index("NVDA") < shown.output.index("AAPL") < shown.output.index("MSFT")
        unknown = runner.invoke(app, ["universe", "add", "tech", "QQQQ"])
        assert unknown.exit_code == 2
        assert "QQQQ" in unknown.output
        assigned = runner.invoke(app, ["universe", "assign-strategy", "trend", "tech"])
        assert assigned.exit_code == 0, assigned.output
        refused = runner.invoke(app, ["universe", "delete", "tech"])
        assert refused.exit_code == 2 and "trend" in refused.output
        listed = runner.invoke(app, ["universe", "strategies"])
        assert "trend" in listed.output and "tech" in listed.output
    finally:
        get_settings.cache_clear()
    assert _group_members(registered, "tech") == [("NVDA", 1), ("AAPL", 2), ("MSFT", 3)]
