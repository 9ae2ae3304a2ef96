"""The screen language: the syntax tree of valid screens, errors that point at the position and
suggest the nearest name, and (fuzzed) that nothing but catalogue names, fixed keywords and
parameter names ever reaches the compiled SQL."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocker.core.errors import DataError
from stocker.core.screener import (
    FIELDS,
    Between,
    Compare,
    InList,
    IsNull,
    Logic,
    Not,
    OrderKey,
    Screen,
    ScreenError,
    parse,
)
from stocker.store.screen_sql import compile_screen

EXAMPLE = (
    'pe < 20 and roe > 0.15 and sector in ("Technology", "Health Care") '
    "order by composite_score desc limit 30"
)
SQL_WORDS = {
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "IS",
    "NULL",
    "TRUE",
    "ASC",
    "DESC",
    "NULLS",
    "LAST",
}
SQL_TOKEN = re.compile(r'"[a-z_0-9]+"|:p\d+|[A-Z]+|<=|>=|<>|[<>=(),]')


def _assert_only_safe_sql(screen: Screen) -> None:
    """Every token of the compiled fragments is a catalogue name, a fixed keyword, an operator or
    a parameter name; every literal of the screen is a bound parameter."""
    compiled = compile_screen(screen)
    sql = f"{compiled.where} {compiled.order_by}"
    assert SQL_TOKEN.sub("", sql).strip() == "", sql
    for token in SQL_TOKEN.findall(sql):
        if token.startswith('"'):
            assert token.strip('"') in FIELDS, token
        elif token.startswith(":"):
            assert token[1:] in compiled.parameters, token
        elif token.isalpha():
            assert token in SQL_WORDS, token
    assert sorted(compiled.parameters) == sorted(f"p{n}" for n in range(len(compiled.parameters)))


def test_parse_when_given_the_issue_example_builds_the_tree() -> None:
    screen = parse(EXAMPLE)

    assert screen.where == Logic(
        "and",
        Logic("and", Compare("pe", "<", 20.0), Compare("roe", ">", 0.15)),
        InList("sector", ("Technology", "Health Care")),
    )
    assert screen.order_by == (OrderKey("composite_score", descending=True),)
    assert screen.limit == 30
    assert screen.fields() == ["pe", "roe", "sector", "composite_score"]


def test_parse_when_mixing_and_or_not_binds_not_then_and_then_or() -> None:
    screen = parse("NOT beta > 1 AND pe <> 3 OR (skew IS NOT NULL) order by Value, size DESC")

    assert screen.where == Logic(
        "or",
        Logic("and", Not(Compare("beta", ">", 1.0)), Compare("pe", "!=", 3.0)),
        IsNull("skew", negated=True),
    )
    assert screen.order_by == (OrderKey("value"), OrderKey("size", descending=True))


def test_parse_when_given_between_not_in_and_negative_numbers_reads_them() -> None:
    screen = parse("momentum not between -1.5 and 2e0 and industry not in ('A', \"O'Reilly\")")

    assert screen.where == Logic(
        "and",
        Between("momentum", -1.5, 2.0, negated=True),
        InList("industry", ("A", "O'Reilly"), negated=True),
    )


def test_parse_when_only_order_and_limit_keeps_every_row() -> None:
    assert parse("order by pe limit 3") == Screen("order by pe limit 3", None, (OrderKey("pe"),), 3)


@pytest.mark.parametrize(
    ("expression", "position", "reason", "suggestion"),
    [
        ("p_e < 20", 0, "unknown field 'p_e'", "pe"),
        ("pe < 20 and rooe > 0.1", 12, "unknown field 'rooe'", "roe"),
        ("pe < 20 order by compsite_score desc", 17, "unknown field", "composite_score"),
        ("pe < 20 adn roe > 0.1", 8, "expected 'and', 'or'", "and"),
        ("pe < 20 order composite_score", 14, "expected 'by'", None),
        ("beta btween 1 and 2", 5, "expected a comparison", "between"),
        ("pe < 'cheap'", 5, "pe is a number", None),
        ("sector = 3", 9, "sector is text", None),
        ("sector > 'A'", 7, "sector is text", None),
        ("sector between 'A' and 'B'", 7, "between needs a number field", None),
        ("pe < ", 5, "expected a number, got the end", None),
        ("(pe < 1", 7, "')' closing the bracket", None),
        ("pe < 1)", 6, "expected 'and', 'or'", None),
        ("pe < roe", 5, "got field 'roe'", None),
        ("pe < 1 limit 0", 13, "limit must be between 1", None),
        ("pe < 1 limit 2.5", 13, "limit needs a whole number", None),
        ("sector = 'Tech", 9, "unterminated string", None),
        ("pe == 1", 3, "use '='", None),
        ("pe < 20x", 7, "a number must be followed", None),
        ("pe < 1e999", 5, "out of range", None),
        ("", 0, "empty screen", None),
        ("sector = 'a\x00b'", 11, "control characters", None),
    ],
)
def test_parse_when_wrong_points_at_the_position_and_suggests_a_name(
    expression: str, position: int, reason: str, suggestion: str | None
) -> None:
    with pytest.raises(ScreenError) as caught:
        parse(expression)

    error = caught.value
    assert isinstance(error, DataError)
    assert (error.position, error.suggestion) == (position, suggestion)
    assert reason in error.reason
    caret_line = str(error).splitlines()[-1]
    assert caret_line == "  " + " " * position + "^"
    if suggestion:
        assert f"did you mean {suggestion!r}?" in str(error)


INJECTIONS = [
    "sector = 'x'; DROP TABLE instrument_info",
    "sector = 'x' -- and the rest is a comment",
    "sector = 'x' /* comment */",
    "sector = 'x' # comment",
    "pe < 20 or 1 = 1",
    "sector = 'a' or 'a' = 'a'",
    "sector = 'O''Reilly'",
    "sector = 'a\\' or 1=1",
    "pg_sleep(10) > 0",
    "lower(sector) = 'tech'",
    "pe < abs(-3)",
    "pe < (select 1)",
    "symbol = 'A' union select key from api_keys",
    "instrument_info.symbol = 'A'",
    '"pe" < 20',
    "pe < 20 limit 1; delete from prices_daily",
    "pe < 20 order by 1",
    "pe < 20 order by pe; select 1",
    "pe < 20 order by random()",
    "pe::text = '1'",
    "$1 = 1",
    "pe < $$1$$",
    "sector = E'\\x41'",
]


@pytest.mark.parametrize("expression", INJECTIONS)
def test_parse_when_given_an_injection_attempt_refuses_it(expression: str) -> None:
    with pytest.raises(ScreenError, match=r"(?s)at position \d+.*\^"):
        parse(expression)


def _parse_or_refuse(expression: str) -> None:
    try:
        screen = parse(expression)
    except ScreenError as error:
        assert 0 <= error.position <= len(error.expression)
        return
    _assert_only_safe_sql(screen)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_parse_when_given_random_text_refuses_it_or_compiles_only_safe_sql(text: str) -> None:
    _parse_or_refuse(text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet="pe<>=!()'\";-/*#,. andorinotbetweenisnullorderbylimitdesc0123456789", max_size=60
    )
)
def test_parse_when_given_text_of_the_language_alphabet_never_fails_otherwise(text: str) -> None:
    _parse_or_refuse(text)


VALID = [
    EXAMPLE,
    "pe between 5 and 15 or not (beta >= 1.2) order by momentum desc, size asc limit 10",
    "sector not in ('Energy') and volatility is not null and promoter_holding > 50",
    "symbol = 'AAPL' or name = \"Apple Inc.\"",
]
FRAGMENTS = ["'", '"', ";", "--", "/*", "(", ")", ",", " or 1=1", "drop table x", "pg_sleep(1)",
             "\\", "$$", "::", "\x00", "%", " union select 1"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from(VALID),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(FRAGMENTS) | st.text(max_size=3), st.booleans()),
        min_size=1,
        max_size=3,
    ),
)
def test_parse_when_a_valid_screen_is_mutated_refuses_it_or_compiles_only_safe_sql(
    base: str, edits: list[tuple[float, str, bool]]
) -> None:
    text = base
    for where, fragment, replace in edits:
        at = int(where * len(text))
        text = text[:at] + fragment + (text[at + len(fragment) :] if replace else text[at:])
    _parse_or_refuse(text)


@pytest.mark.parametrize("expression", VALID)
def test_compile_when_given_valid_screens_binds_every_literal(expression: str) -> None:
    screen = parse(expression)
    compiled = compile_screen(screen)

    _assert_only_safe_sql(screen)
    for literal in re.findall(r"'([^']*)'|\"([^\"]*)\"", expression):
        value = literal[0] or literal[1]
        assert value in compiled.parameters.values()
        assert value not in compiled.where


def test_compile_when_given_the_example_writes_this_sql() -> None:
    compiled = compile_screen(parse(EXAMPLE))

    assert compiled.where == '((("pe" < :p0) AND ("roe" > :p1)) AND ("sector" IN (:p2, :p3)))'
    assert compiled.order_by == '"composite_score" DESC NULLS LAST'
    assert compiled.parameters == {
        "p0": 20.0,
        "p1": 0.15,
        "p2": "Technology",
        "p3": "Health Care",
        "p4": 30,
    }
    assert compiled.limit_parameter == "p4"


def test_parse_when_nested_too_deep_refuses_instead_of_recursing() -> None:
    with pytest.raises(ScreenError, match="nested more than"):
        parse("(" * 200 + "pe < 1" + ")" * 200)
    with pytest.raises(ScreenError, match="nested more than"):
        parse("not " * 200 + "pe < 1")


def test_field_catalogue_when_compared_with_the_spec_tables_names_every_field() -> None:
    fundamentals = {n for n, f in FIELDS.items() if f.source == "fundamentals"}
    assert {"pe", "pb", "ps", "roe", "roce", "sector", "industry", "dii_holding"} <= fundamentals
    assert {n for n, f in FIELDS.items() if f.source == "factors"} == {
        "value", "quality", "momentum", "low_vol", "size", "composite_score"
    }  # fmt: skip
    assert {n for n, f in FIELDS.items() if f.source == "risk"} == {
        "volatility", "beta", "tail_beta", "skew", "kurtosis"
    }  # fmt: skip
