"""The migrated schema matches section 2 of the Stocker data model, read from the spec itself.

The markdown tables of `docs/spec/stocker_data_model.md` are parsed here (no second copy of the
spec lives in the tests) and every column type, NOT NULL flag, default, key, CHECK list, foreign
key and IDX marker is compared with `pg_catalog` of a freshly migrated database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, text

REPO = Path(__file__).resolve().parents[3]
SPEC = REPO / "docs" / "spec" / "stocker_data_model.md"
SCHEMA_DOC = REPO / "docs" / "schema.md"

# Columns the schema deliberately makes stricter than the spec (documented in docs/schema.md).
TIGHTENED_NOT_NULL = {("corporate_actions", "action_type")}

SCALAR_TYPES = {
    "BIGSERIAL": "bigint",
    "BIGINT": "bigint",
    "INT": "integer",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "DATE": "date",
    "TEXT": "text",
    "BOOLEAN": "boolean",
    "UUID": "uuid",
    "TIMESTAMPTZ": "timestamp with time zone",
}


@dataclass
class SpecColumn:
    """One row of a spec table: the column, its declared type and its constraints."""

    name: str
    type_text: str
    constraints: str
    primary_key: bool = False
    not_null: bool = False
    indexed: bool = False
    unique: bool = False
    default: str | None = None
    check_values: tuple[str, ...] | None = None
    references: tuple[str, str] | None = None


@dataclass
class SpecTable:
    name: str
    columns: list[SpecColumn] = field(default_factory=list)
    unique_constraints: list[tuple[str, ...]] = field(default_factory=list)


def _parse_constraints(column: SpecColumn) -> None:
    text_ = column.constraints
    if check := re.search(r"CHECK\s*\(([^)]*)\)", text_):
        column.check_values = tuple(value.strip() for value in check.group(1).split(","))
        text_ = text_.replace(check.group(0), "")
    if reference := re.search(r"FK\s*`(\w+)\.(\w+)`", text_):
        column.references = (reference.group(1), reference.group(2))
        text_ = text_.replace(reference.group(0), "")
    if default := re.search(r"DEFAULT\s+('[^']*'|[\w.()]+)", text_):
        column.default = default.group(1)
        text_ = text_.replace(default.group(0), "")
    tokens = {token.strip() for token in text_.split(",") if token.strip()}
    column.primary_key = "PK" in tokens
    column.not_null = "NOT NULL" in tokens or column.primary_key
    column.indexed = "IDX" in tokens
    column.unique = "UNIQUE" in tokens
    unknown = tokens - {"PK", "NOT NULL", "IDX", "UNIQUE"}
    assert not unknown, f"unparsed constraint(s) {unknown} on column {column.name}"


def parse_section_2(path: Path = SPEC) -> dict[str, SpecTable]:
    """Every table of section 2 ("PostgreSQL Schema") with its columns and unique constraints."""
    spec = path.read_text(encoding="utf-8")
    section = spec.split("## 2. PostgreSQL Schema", 1)[1].split("\n## 3.", 1)[0]
    tables: dict[str, SpecTable] = {}
    current: SpecTable | None = None
    for line in section.splitlines():
        if heading := re.match(r"^####\s+`(\w+)`", line):
            current = tables.setdefault(heading.group(1), SpecTable(heading.group(1)))
        elif current and (row := re.match(r"^\|\s*`(\w+)`\s*\|", line)):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            column = SpecColumn(name=row.group(1), type_text=cells[1], constraints=cells[2])
            _parse_constraints(column)
            current.columns.append(column)
        elif current and (unique := re.search(r"\*\*Unique Constraint\*\*:\s*`\(([^)]*)\)`", line)):
            current.unique_constraints.append(tuple(c.strip() for c in unique.group(1).split(",")))
    return tables


# ----------------------------------------------------------------------------- catalog access


def _columns(conn: Connection, table: str) -> dict[str, dict]:
    rows = conn.execute(
        text(
            "SELECT column_name, data_type, character_maximum_length, numeric_precision,"
            " numeric_scale, is_nullable, column_default FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = :table"
        ),
        {"table": table},
    ).mappings()
    return {row["column_name"]: dict(row) for row in rows}


def _constraints(conn: Connection, table: str) -> list[dict]:
    """Constraints of a table with their column names in key order."""
    rows = conn.execute(
        text(
            """
            SELECT c.contype, c.conname, pg_get_constraintdef(c.oid) AS definition,
                   ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(num, ord)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num
                         ORDER BY k.ord) AS columns,
                   c.confrelid::regclass::text AS referenced_table,
                   ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(num, ord)
                         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num
                         ORDER BY k.ord) AS referenced_columns
            FROM pg_constraint c
            WHERE c.conrelid = CAST(:table AS regclass)
            """
        ),
        {"table": table},
    ).mappings()
    return [dict(row) for row in rows]


def _indexes(conn: Connection, table: str) -> list[dict]:
    """Indexes of a table: key column names in order, uniqueness and whether partial."""
    rows = conn.execute(
        text(
            """
            SELECT i.indisunique AS is_unique, i.indpred IS NOT NULL AS is_partial,
                   ARRAY(SELECT a.attname
                         FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(num, ord)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                         ORDER BY k.ord) AS columns
            FROM pg_index i WHERE i.indrelid = CAST(:table AS regclass)
            """
        ),
        {"table": table},
    ).mappings()
    return [dict(row) for row in rows]


def _is_base_table(conn: Connection, table: str) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'"
                " AND table_name = :table AND table_type = 'BASE TABLE'"
            ),
            {"table": table},
        ).scalar()
    )


# ----------------------------------------------------------------------------- comparison


def _type_mismatch(spec: SpecColumn, actual: dict) -> str | None:
    type_text = spec.type_text.upper().replace(" ", "")
    if match := re.fullmatch(r"NUMERIC\((\d+),(\d+)\)", type_text):
        want = ("numeric", int(match.group(1)), int(match.group(2)))
        got = (actual["data_type"], actual["numeric_precision"], actual["numeric_scale"])
    elif match := re.fullmatch(r"VARCHAR\((\d+)\)", type_text):
        want = ("character varying", int(match.group(1)))
        got = (actual["data_type"], actual["character_maximum_length"])
    elif type_text in SCALAR_TYPES:
        want, got = SCALAR_TYPES[type_text], actual["data_type"]
    else:
        return f"spec type {spec.type_text!r} is not understood by this test"
    if want != got:
        return f"type is {got}, spec says {spec.type_text} ({want})"
    if type_text == "BIGSERIAL" and not str(actual["column_default"] or "").startswith("nextval("):
        return f"BIGSERIAL needs a sequence default, found {actual['column_default']!r}"
    return None


def _normalized_default(default: str | None) -> str | None:
    """`'USD'::character varying` -> `'usd'`, `now()` -> `now()`, `1.0` -> `1.0`."""
    if default is None:
        return None
    return re.sub(r"::[\w\s]+$", "", default.strip()).lower()


def _check_values(definition: str) -> set[str] | None:
    """The literal list of an `x = ANY (ARRAY[...])` CHECK, with casts and quotes removed."""
    match = re.search(r"ARRAY\[(.*?)\]", definition)
    if not match:
        return None
    return {
        re.sub(r"::[\w\s]+", "", item).strip().strip("()").strip("'")
        for item in match.group(1).split(",")
    }


def schema_mismatches(conn: Connection, table: SpecTable) -> list[str]:
    """Every way the database differs from one spec table (empty when it matches)."""
    name = table.name
    if not _is_base_table(conn, name):
        return [f"{name}: table missing"]
    problems: list[str] = []
    columns = _columns(conn, name)
    constraints = _constraints(conn, name)
    indexes = _indexes(conn, name)
    primary_keys = [c["columns"] for c in constraints if c["contype"] == "p"]
    unique_keys = [tuple(c["columns"]) for c in constraints if c["contype"] in ("u", "p")]
    unique_keys += [tuple(i["columns"]) for i in indexes if i["is_unique"] and not i["is_partial"]]

    for spec in table.columns:
        where = f"{name}.{spec.name}"
        actual = columns.get(spec.name)
        if actual is None:
            problems.append(f"{where}: column missing")
            continue
        if mismatch := _type_mismatch(spec, actual):
            problems.append(f"{where}: {mismatch}")
        nullable = actual["is_nullable"] == "YES"
        if spec.not_null and nullable:
            problems.append(f"{where}: nullable, spec says NOT NULL")
        if not spec.not_null and not nullable and (name, spec.name) not in TIGHTENED_NOT_NULL:
            problems.append(f"{where}: NOT NULL, spec allows NULL")
        if spec.type_text.upper() != "BIGSERIAL":
            want_default = _normalized_default(spec.default)
            got_default = _normalized_default(actual["column_default"])
            if want_default != got_default:
                problems.append(f"{where}: default {got_default!r}, spec says {want_default!r}")
        if spec.primary_key and primary_keys != [[spec.name]]:
            problems.append(f"{where}: primary key is {primary_keys}, spec says ({spec.name})")
        if spec.unique and (spec.name,) not in unique_keys:
            problems.append(f"{where}: no UNIQUE constraint on the column alone")
        if spec.check_values is not None:
            lists = [
                _check_values(c["definition"])
                for c in constraints
                if c["contype"] == "c" and c["columns"] == [spec.name]
            ]
            if set(spec.check_values) not in lists:
                found = sorted(sorted(values) for values in lists if values is not None)
                problems.append(f"{where}: CHECK lists {found}, spec says {spec.check_values}")
        if spec.references is not None:
            want_reference = (spec.references[0], [spec.references[1]])
            references = [
                (c["referenced_table"], c["referenced_columns"])
                for c in constraints
                if c["contype"] == "f" and c["columns"] == [spec.name]
            ]
            if want_reference not in references:
                problems.append(f"{where}: references {references}, spec says {spec.references}")
        if spec.indexed and not any(i["columns"][:1] == [spec.name] for i in indexes):
            problems.append(f"{where}: IDX but no index leads with the column")

    for unique in table.unique_constraints:
        if unique not in unique_keys:
            problems.append(f"{name}: no UNIQUE constraint on ({', '.join(unique)})")
    return problems


SPEC_TABLES = parse_section_2()


def test_spec_parser_when_reading_section_2_finds_every_table_with_columns() -> None:
    spec = SPEC.read_text(encoding="utf-8").split("\n## 3.", 1)[0]
    headings = re.findall(r"^####\s+`(\w+)`", spec, flags=re.MULTILINE)
    table_rows = re.findall(r"^\|\s*`\w+`", spec, flags=re.MULTILINE)

    assert sorted(SPEC_TABLES) == sorted(headings)
    assert sum(len(table.columns) for table in SPEC_TABLES.values()) == len(table_rows)
    assert all(table.columns for table in SPEC_TABLES.values())
    parsed_constraints = [c for t in SPEC_TABLES.values() for c in t.columns if c.constraints]
    assert any(c.check_values == ("-1", "0", "1") for c in parsed_constraints)
    assert any(c.references == ("orders", "order_id") for c in parsed_constraints)
    assert any(c.default == "'US_EQUITY'" for c in parsed_constraints)


def test_schema_when_migrated_matches_every_table_of_section_2(engine: Engine) -> None:
    with engine.connect() as conn:
        problems = [p for table in SPEC_TABLES.values() for p in schema_mismatches(conn, table)]

    assert problems == []


def test_schema_check_when_database_drifts_reports_each_drift(engine: Engine) -> None:
    drifts = [
        "ALTER TABLE prices_intraday ALTER COLUMN open TYPE NUMERIC(12, 4)",
        "ALTER TABLE prices_daily ALTER COLUMN volume DROP NOT NULL",
        "ALTER TABLE instrument_info ALTER COLUMN currency SET DEFAULT 'EUR'",
        "DROP INDEX ix_signals_date",
        "ALTER TABLE signals DROP CONSTRAINT ck_signals_direction",
        "ALTER TABLE signals ADD CONSTRAINT ck_direction CHECK (direction IN (-1, 1))",
        "ALTER TABLE fills DROP CONSTRAINT fills_order_id_fkey",
        "ALTER TABLE trading_universe"
        " DROP CONSTRAINT trading_universe_as_of_date_symbol_source_key",
        "ALTER TABLE orders DROP CONSTRAINT orders_order_id_key CASCADE",
        "ALTER TABLE market_breadth DROP COLUMN value",
    ]
    with engine.begin() as conn:
        for statement in drifts:
            conn.execute(text(statement))
        problems = [p for table in SPEC_TABLES.values() for p in schema_mismatches(conn, table)]

    assert sorted(problems) == sorted(
        [
            "prices_intraday.open: type is ('numeric', 12, 4), spec says NUMERIC(14, 4) "
            "(('numeric', 14, 4))",
            "prices_daily.volume: nullable, spec says NOT NULL",
            "instrument_info.currency: default \"'eur'\", spec says \"'usd'\"",
            "signals.date: IDX but no index leads with the column",
            "signals.direction: CHECK lists [['-1', '1']], spec says ('-1', '0', '1')",
            "fills.order_id: references [], spec says ('orders', 'order_id')",
            "trading_universe: no UNIQUE constraint on (as_of_date, symbol, source)",
            "trading_universe.as_of_date: IDX but no index leads with the column",
            "orders.order_id: no UNIQUE constraint on the column alone",
            "market_breadth.value: column missing",
        ]
    )


def test_schema_doc_when_tables_have_columns_beyond_the_spec_names_each_one(
    engine: Engine,
) -> None:
    """Every column added to a spec table is explained in docs/schema.md."""
    documentation = SCHEMA_DOC.read_text(encoding="utf-8")
    with engine.connect() as conn:
        undocumented = [
            f"{table.name}.{column}"
            for table in SPEC_TABLES.values()
            for column in _columns(conn, table.name)
            if column not in {c.name for c in table.columns}
            and f"{table.name}.{column}" not in documentation
        ]

    assert undocumented == []
