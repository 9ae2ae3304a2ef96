"""The SigmaQLab data model (sections 11.3-11.11) is served by the one schema, read from the spec.

Field lists, per-table indexes and the 11.11 query patterns are parsed from
`docs/spec/sigmaqlab_data_models.md`; where SigmaQLab names a fact the Stocker tables already hold,
the name is a view, and its queries must still run unchanged and return the right rows.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from stocker.store.db import make_engine

REPO = Path(__file__).resolve().parents[3]
SPEC = REPO / "docs" / "spec" / "sigmaqlab_data_models.md"

# Noun phrases of the 11.9 "Critical indexes" bullets -> the relations they name.
CRITICAL_INDEX_TARGETS = {
    "ohlcv": ["market_data_ohlcv"],
    "factors & fundamentals": ["factor_exposures", "fundamentals_snapshot"],
    "portfolio weights": ["portfolio_weights"],
    "backtest timeseries": ["backtest_timeseries"],
}

# Fillers for the placeholders of the 11.11 queries (the spec leaves them to the caller).
QUERY_PLACEHOLDERS = {
    "WHERE ...": "WHERE as_of_date = :as_of_date",
    "<rebalance_date>": ":rebalance_date",
    "<group_symbols>": "(SELECT symbol FROM group_members WHERE group_id = :group_id)",
    "<d>": ":d",
}


@dataclass
class SpecField:
    name: str
    annotation: str | None


@dataclass
class SpecRelation:
    name: str
    fields: list[SpecField] = field(default_factory=list)
    indexes: list[tuple[str, ...]] = field(default_factory=list)


def _section(spec: str, start: str, end: str) -> str:
    return spec.split(start, 1)[1].split(end, 1)[0]


def parse_relations(path: Path = SPEC) -> dict[str, SpecRelation]:
    """Tables of 11.3-11.8: their field names (with annotations) and listed indexes."""
    body = _section(path.read_text(encoding="utf-8"), "# **11.3 ", "# **11.9 ")
    chunks = re.split(r"^## \*\*11\.\d+\.\d+ Table: `(\w+)`\*\*\s*$", body, flags=re.MULTILINE)
    relations: dict[str, SpecRelation] = {}
    for name, chunk in zip(chunks[1::2], chunks[2::2], strict=True):
        relation = SpecRelation(name)
        blocks = re.findall(r"```\n(.*?)```", chunk, flags=re.DOTALL)
        field_lines = blocks[0].split("---", 1)[1].lstrip("-").splitlines()
        for line in field_lines:
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            match = re.match(r"(\w+)\s*(?:\(([^)]*)\))?", line)
            assert match, f"unparsed field line {line!r} of {name}"
            relation.fields.append(SpecField(match.group(1), match.group(2)))
        if indexes := re.search(r"Indexes:\s*```\n(.*?)```", chunk, flags=re.DOTALL):
            for line in filter(None, map(str.strip, indexes.group(1).splitlines())):
                relation.indexes.append(tuple(c.strip() for c in line.strip("()").split(",")))
        relations[name] = relation
    return relations


def parse_critical_indexes(path: Path = SPEC) -> list[tuple[str, tuple[str, ...]]]:
    """The 11.9 bullets as (relation, columns) pairs."""
    body = _section(path.read_text(encoding="utf-8"), "### Critical indexes:", "### Large")
    pairs = []
    for columns, phrase in re.findall(r"^\* `\(([^)]*)\)` on (.+)$", body, flags=re.MULTILINE):
        targets = CRITICAL_INDEX_TARGETS[phrase.strip().lower()]
        pairs += [(t, tuple(c.strip() for c in columns.split(","))) for t in targets]
    return pairs


def parse_query_patterns(path: Path = SPEC) -> dict[str, str]:
    """The SQL of 11.11 by purpose, placeholders filled with bind parameters."""
    body = _section(path.read_text(encoding="utf-8"), "# **11.11 Query Patterns**", "# **11.12")
    queries = {}
    for purpose, chunk in re.findall(r"### For (\w+):(.*?)(?=### For |\Z)", body, re.DOTALL):
        if block := re.search(r"```\n(.*?)```", chunk, flags=re.DOTALL):
            sql = block.group(1)
            for placeholder, filler in QUERY_PLACEHOLDERS.items():
                sql = sql.replace(placeholder, filler)
            assert "<" not in sql and "..." not in sql, f"unfilled placeholder in {sql!r}"
            queries[purpose.lower()] = sql
    return queries


SPEC_RELATIONS = parse_relations()
AS_OF = dt.date(2024, 1, 31)
LATER = dt.date(2024, 2, 29)


@dataclass
class Research:
    engine: Engine
    group_id: int
    backtest_id: int


@pytest.fixture(scope="module")
def research(server_url: str, template_database: str) -> Iterator[Research]:
    """One migrated database holding the research data set (see `_seed`), shared by the
    read-only tests: cloning a database per test would cost seconds."""
    name = f"stocker_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    engine = make_engine(
        make_url(server_url).set(database=name).render_as_string(hide_password=False)
    )
    with engine.begin() as conn:
        group_id = _seed(conn)
        backtest_id = _seed_backtest(conn, group_id)
    yield Research(engine, group_id, backtest_id)
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# ----------------------------------------------------------------------------- catalog helpers


def _relation_kind(conn: Connection, name: str) -> str | None:
    return conn.execute(
        text(
            "SELECT table_type FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_name = :name"
        ),
        {"name": name},
    ).scalar()


def _column_names(conn: Connection, name: str) -> set[str]:
    return set(
        conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = :name"
            ),
            {"name": name},
        ).scalars()
    )


def _base_column(conn: Connection, relation: str, column: str) -> tuple[str, str]:
    """The table and column behind `relation.column` (itself for a table).

    A view's output columns carry their origin (`resorigtbl`, `resorigcol`) in its rewrite rule;
    the outer query's target list is printed after any subquery in its WHERE clause.
    """
    if _relation_kind(conn, relation) == "BASE TABLE":
        return relation, column
    action = conn.execute(
        text(
            "SELECT ev_action::text FROM pg_rewrite"
            " WHERE ev_class = CAST(:view AS regclass) AND rulename = '_RETURN'"
        ),
        {"view": relation},
    ).scalar_one()
    origins = re.findall(
        rf":resname {column} :ressortgroupref \d+ :resorigtbl (\d+) :resorigcol (\d+)", action
    )
    assert origins and origins[-1][0] != "0", f"{relation}.{column}: no base table column"
    table_oid, column_number = origins[-1]
    table, base = conn.execute(
        text(
            "SELECT c.relname, a.attname FROM pg_class c"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = :number"
            " WHERE c.oid = :oid"
        ),
        {"oid": int(table_oid), "number": int(column_number)},
    ).one()
    return table, base


def _foreign_keys(conn: Connection, table: str, column: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        text(
            """
            SELECT c.confrelid::regclass::text, a.attname
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = c.confkey[1]
            WHERE c.contype = 'f' AND c.conrelid = CAST(:table AS regclass)
              AND cardinality(c.conkey) = 1
              AND c.conkey[1] = (SELECT attnum FROM pg_attribute
                                 WHERE attrelid = CAST(:table AS regclass) AND attname = :column)
            """
        ),
        {"table": table, "column": column},
    )
    return [(row[0], row[1]) for row in rows]


def _primary_key(conn: Connection, table: str) -> list[str]:
    return list(
        conn.execute(
            text(
                """
                SELECT a.attname FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                WHERE i.indrelid = CAST(:table AS regclass) AND i.indisprimary
                """
            ),
            {"table": table},
        ).scalars()
    )


def _has_leading_index(conn: Connection, relation: str, columns: tuple[str, ...]) -> bool:
    """True when an index on the relation (or its base table) starts with these columns."""
    base_columns = [_base_column(conn, relation, column) for column in columns]
    tables = {table for table, _ in base_columns}
    if len(tables) != 1:
        return False
    (table,) = tables
    wanted = [column for _, column in base_columns]
    leading = conn.execute(
        text(
            """
            SELECT ARRAY(SELECT a.attname
                         FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(num, ord)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                         ORDER BY k.ord)
            FROM pg_index i WHERE i.indrelid = CAST(:table AS regclass) AND i.indpred IS NULL
            """
        ),
        {"table": table},
    ).scalars()
    return any(list(index[: len(wanted)]) == wanted for index in leading)


# ----------------------------------------------------------------------------- structure


def test_spec_parser_when_reading_sections_11_3_to_11_8_finds_every_table() -> None:
    spec = SPEC.read_text(encoding="utf-8")
    headings = re.findall(r"^## \*\*11\.[3-8]\.\d+ Table: `(\w+)`", spec, flags=re.MULTILINE)

    assert list(SPEC_RELATIONS) == headings
    assert all(relation.fields for relation in SPEC_RELATIONS.values())
    assert SPEC_RELATIONS["group_members"].fields[-1] == SpecField("position", "int")
    assert ("symbol", "as_of_date") in SPEC_RELATIONS["fundamentals_snapshot"].indexes
    assert len(parse_critical_indexes()) == 5
    assert set(parse_query_patterns()) == {"screener", "optimizer", "analytics"}


def test_relations_when_migrated_have_every_spec_field(research: Research) -> None:
    with research.engine.connect() as conn:
        kinds = {name: _relation_kind(conn, name) for name in SPEC_RELATIONS}
        missing = [
            f"{relation.name}.{spec_field.name}"
            for relation in SPEC_RELATIONS.values()
            for spec_field in relation.fields
            if spec_field.name not in _column_names(conn, relation.name)
        ]

    assert {name: kind for name, kind in kinds.items() if kind not in ("BASE TABLE", "VIEW")} == {}
    assert missing == []


def test_relations_when_spec_marks_keys_have_them_in_the_database(research: Research) -> None:
    problems = []
    with research.engine.connect() as conn:
        for relation in SPEC_RELATIONS.values():
            for spec_field in relation.fields:
                annotation = (spec_field.annotation or "").replace(" ", "")
                if annotation != "pk" and not annotation.startswith("fk"):
                    continue
                table, column = _base_column(conn, relation.name, spec_field.name)
                where = f"{relation.name}.{spec_field.name} ({table}.{column})"
                if annotation == "pk":
                    if _primary_key(conn, table) != [column]:
                        problems.append(f"{where}: not the primary key")
                    continue
                target = annotation.removeprefix("fk").lstrip(":") or "symbols"
                target_relation, _, target_column = target.partition(".")
                if not target_column:
                    target_column = "symbol" if target_relation == "symbols" else "id"
                want = _base_column(conn, target_relation, target_column)
                if want not in _foreign_keys(conn, table, column):
                    problems.append(f"{where}: no foreign key to {want}")

    assert problems == []


def test_indexes_when_listed_in_the_spec_exist(research: Research) -> None:
    wanted = [(r.name, columns) for r in SPEC_RELATIONS.values() for columns in r.indexes]
    wanted += parse_critical_indexes()
    with research.engine.connect() as conn:
        missing = [(rel, cols) for rel, cols in wanted if not _has_leading_index(conn, rel, cols)]

    assert missing == []


def test_views_when_named_by_sigmaqlab_accept_writes(engine: Engine) -> None:
    """symbols, groups, group_members and market_data_ohlcv stay auto-updatable views."""
    with engine.begin() as conn:
        updatable = dict(
            conn.execute(
                text(
                    "SELECT table_name, is_insertable_into FROM information_schema.views"
                    " WHERE table_schema = 'public'"
                )
            ).all()
        )
        conn.execute(text("INSERT INTO symbols (symbol, name, sector) VALUES ('ZZZ', 'Z', 'X')"))
        conn.execute(text("UPDATE symbols SET sector = 'Energy' WHERE symbol = 'ZZZ'"))
        group_id = conn.execute(
            text("INSERT INTO groups (name) VALUES ('g') RETURNING id")
        ).scalar_one()
        conn.execute(
            text("INSERT INTO group_members (group_id, symbol, position) VALUES (:g, 'ZZZ', 1)"),
            {"g": group_id},
        )
        stored = conn.execute(
            text(
                "SELECT i.sector, i.asset_class, m.universe_id, m.position, m.is_deleted"
                " FROM instrument_info i JOIN instrument_universe_member m USING (symbol)"
            )
        ).one()

    assert updatable == {
        "symbols": "YES",
        "groups": "YES",
        "group_members": "YES",
        "market_data_ohlcv": "YES",
        "fundamentals_snapshot": "NO",
        # Derived from holding, sector periods and trade sets (migration 0009, docs/schema.md):
        # writable through INSTEAD OF triggers, which information_schema reports as
        # is_trigger_insertable_into, not is_insertable_into.
        "backtest_holdings": "NO",
        "backtest_trades": "NO",
        "backtest_sector_exposures": "NO",
    }
    assert tuple(stored) == ("Energy", "US_EQUITY", group_id, 1, False)


# ----------------------------------------------------------------------------- query patterns


def _seed(conn: Connection) -> int:
    """A small research data set; returns the id of the saved screener group."""
    conn.execute(
        text(
            "INSERT INTO instrument_info (symbol, name, sector, industry, exchange) VALUES"
            " ('AAA', 'Alpha', 'Technology', 'Software', 'NSE'),"
            " ('BBB', 'Beta', 'Financials', 'Banks', 'NSE'),"
            " ('CCC', 'Gamma', 'Technology', 'Hardware', 'BSE')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO instrument_metrics (symbol, as_of_date, period_type, source, pe_ttm, roe,"
            " sector, updated_at) VALUES"
            " ('AAA', :d, 'FY', 'screener_in', 30, 0.10, NULL, '2024-02-01'),"
            " ('AAA', :d, 'TTM', 'screener_in', 25, 0.20, NULL, '2024-01-01'),"
            " ('BBB', :d, 'DAILY', 'yfinance', 10, 0.15, NULL, NULL),"
            " ('CCC', :d, 'FQ', 'screener_in', 40, 0.05, 'Industrials', NULL),"
            " ('AAA', :later, 'TTM', 'screener_in', 22, 0.21, NULL, NULL)"
        ),
        {"d": AS_OF, "later": LATER},
    )
    conn.execute(
        text(
            "INSERT INTO factor_exposures (symbol, as_of_date, value, quality, momentum) VALUES"
            " ('AAA', :d, 0.5, 0.1, 1.5), ('BBB', :d, 1.2, 0.3, -0.4),"
            " ('CCC', :d, -0.7, 0.2, 0.9), ('AAA', :later, 0.6, 0.1, 1.4)"
        ),
        {"d": AS_OF, "later": LATER},
    )
    group_id = conn.execute(
        text("INSERT INTO groups (name, description) VALUES ('top', 'screener') RETURNING id")
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO group_members (group_id, symbol, position) VALUES"
            " (:g, 'CCC', 1), (:g, 'AAA', 2)"
        ),
        {"g": group_id},
    )
    conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('XXX'), ('YYY'), ('ZZZ')"))
    conn.execute(
        text(
            "INSERT INTO instrument_metrics (symbol, as_of_date, period_type, source, pe_ttm,"
            " updated_at) VALUES"
            " ('XXX', :d, 'FY', 'a', 1, NULL), ('XXX', :d, 'FQ', 'a', 2, NULL),"
            " ('YYY', :d, 'FY', 'a', 3, NULL), ('YYY', :d, 'DAILY', 'a', 4, NULL),"
            " ('ZZZ', :d, 'FY', 'a', 5, '2024-02-02'), ('ZZZ', :d, 'FY', 'b', 6, '2024-02-03')"
        ),
        {"d": AS_OF},
    )
    return group_id


def test_screener_query_when_run_unchanged_joins_fundamentals_and_factors(
    research: Research,
) -> None:
    with research.engine.connect() as conn:
        rows = conn.execute(text(parse_query_patterns()["screener"]), {"as_of_date": AS_OF}).all()

    assert sorted(tuple(row) for row in rows) == [
        ("AAA", Decimal("25.0000"), Decimal("0.200000"), 0.5, 1.5),
        ("BBB", Decimal("10.0000"), Decimal("0.150000"), 1.2, -0.4),
        ("CCC", Decimal("40.0000"), Decimal("0.050000"), -0.7, 0.9),
    ]


def test_fundamentals_snapshot_when_several_rows_share_a_date_prefers_ttm_then_newest(
    research: Research,
) -> None:
    with research.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT symbol, pe, period_type, source, sector FROM fundamentals_snapshot"
                " WHERE as_of_date = :d ORDER BY symbol"
            ),
            {"d": AS_OF},
        ).all()

    assert [tuple(row) for row in rows] == [
        ("AAA", Decimal("25.0000"), "TTM", "screener_in", "Technology"),
        ("BBB", Decimal("10.0000"), "DAILY", "yfinance", "Financials"),
        ("CCC", Decimal("40.0000"), "FQ", "screener_in", "Industrials"),
        ("XXX", Decimal("2.0000"), "FQ", "a", None),
        ("YYY", Decimal("4.0000"), "DAILY", "a", None),
        ("ZZZ", Decimal("6.0000"), "FY", "b", None),
    ]


def test_optimizer_query_when_run_unchanged_selects_group_factors_on_the_date(
    research: Research,
) -> None:
    with research.engine.connect() as conn:
        rows = conn.execute(
            text(parse_query_patterns()["optimizer"]),
            {"rebalance_date": AS_OF, "group_id": research.group_id},
        ).mappings()
        found = sorted((row["symbol"], row["as_of_date"], row["value"]) for row in rows)

    assert found == [("AAA", AS_OF, 0.5), ("CCC", AS_OF, -0.7)]


def test_group_members_when_read_in_position_order_keep_the_screener_rank(
    research: Research,
) -> None:
    with research.engine.connect() as conn:
        symbols = conn.execute(
            text("SELECT symbol FROM group_members WHERE group_id = :g ORDER BY position"),
            {"g": research.group_id},
        ).scalars()
        ordered = list(symbols)

    assert ordered == ["CCC", "AAA"]


def _seed_backtest(conn: Connection, group_id: int) -> int:
    portfolio_id = conn.execute(
        text(
            "INSERT INTO portfolios (code, name, group_id, optimizer_type, initial_capital)"
            " VALUES ('p1', 'Top', :g, 'max_sharpe', 1000000) RETURNING id"
        ),
        {"g": group_id},
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO portfolio_weights (portfolio_id, date, symbol, weight) VALUES"
            " (:p, :d, 'AAA', 0.6), (:p, :d, 'CCC', 0.4), (:p, :later, 'AAA', 1.0)"
        ),
        {"p": portfolio_id, "d": AS_OF, "later": LATER},
    )
    conn.execute(
        text(
            "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, volume,"
            " source) VALUES"
            " ('AAA', '2024-02-01', 10, 11, 9, 10.5, 10.5, 1000, 'csv'),"
            " ('CCC', '2024-02-01', 20, 21, 19, 20.5, 20.5, 2000, 'csv'),"
            " ('AAA', '2024-02-02', 10.5, 12, 10, 11.5, 11.5, 1500, 'csv')"
        )
    )
    backtest_id = conn.execute(
        text(
            "INSERT INTO backtest_runs (portfolio_id, start_date, end_date, rebalance_frequency,"
            " transaction_cost, initial_capital) VALUES"
            " (:p, '2024-02-01', '2024-02-02', 'MONTHLY', 0.001, 1000000) RETURNING id"
        ),
        {"p": portfolio_id},
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO backtest_holdings (backtest_id, date, symbol, shares, weight, sector)"
            " VALUES (:b, '2024-02-01', 'AAA', 100, 0.5, 'Technology'),"
            " (:b, '2024-02-01', 'BBB', 50, 0.3, 'Financials'),"
            " (:b, '2024-02-01', 'CCC', 10, 0.2, 'Technology'),"
            " (:b, '2024-02-02', 'AAA', 100, 1.0, 'Technology')"
        ),
        {"b": backtest_id},
    )
    conn.execute(
        text(
            "INSERT INTO backtest_timeseries (backtest_id, date, nav, return, cumulative_return)"
            " VALUES (:b, '2024-02-01', 1000000, 0, 0), (:b, '2024-02-02', 1010000, 0.01, 0.01)"
        ),
        {"b": backtest_id},
    )
    return backtest_id


def test_analytics_query_when_run_unchanged_sums_weights_by_sector(research: Research) -> None:
    with research.engine.connect() as conn:
        rows = conn.execute(
            text(parse_query_patterns()["analytics"]), {"d": dt.date(2024, 2, 1)}
        ).all()

    assert sorted((sector, pytest.approx(total)) for sector, total in rows) == [
        ("Financials", 0.3),
        ("Technology", 0.7),
    ]


def test_backtest_fetches_when_run_return_weights_prices_and_factors(
    research: Research,
) -> None:
    """The three 11.11 backtest fetches: weights per rebalance, OHLCV and factors per day."""
    backtest_id = research.backtest_id
    with research.engine.connect() as conn:
        portfolio_id = conn.execute(
            text("SELECT portfolio_id FROM backtest_runs WHERE id = :b"), {"b": backtest_id}
        ).scalar_one()
        weights = conn.execute(
            text(
                "SELECT date, symbol, weight FROM portfolio_weights WHERE portfolio_id = :p"
                " ORDER BY date, symbol"
            ),
            {"p": portfolio_id},
        ).all()
        bars = conn.execute(
            text(
                "SELECT symbol, date, close, adj_close FROM market_data_ohlcv"
                " WHERE date = :d ORDER BY symbol"
            ),
            {"d": dt.date(2024, 2, 1)},
        ).all()
        factors = conn.execute(
            text(
                "SELECT symbol, momentum FROM factor_exposures WHERE as_of_date = :d"
                " ORDER BY symbol"
            ),
            {"d": LATER},
        ).all()
        navs = conn.execute(
            text("SELECT date, nav FROM backtest_timeseries WHERE backtest_id = :b ORDER BY date"),
            {"b": backtest_id},
        ).all()

    assert [tuple(w) for w in weights] == [
        (AS_OF, "AAA", 0.6),
        (AS_OF, "CCC", 0.4),
        (LATER, "AAA", 1.0),
    ]
    assert [tuple(b) for b in bars] == [
        ("AAA", dt.date(2024, 2, 1), Decimal("10.5000"), Decimal("10.5000")),
        ("CCC", dt.date(2024, 2, 1), Decimal("20.5000"), Decimal("20.5000")),
    ]
    assert [tuple(f) for f in factors] == [("AAA", 1.4)]
    assert [n for _, n in navs] == [Decimal("1000000.0000"), Decimal("1010000.0000")]
