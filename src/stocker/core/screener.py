"""The screener's filter language: tokenizer, parser to a syntax tree, field catalogue, errors.

A screen reads like the WHERE and ORDER BY of a query over one row per symbol::

    pe < 20 and roe > 0.15 and sector in ("Technology", "Health Care")
    order by composite_score desc limit 30

Grammar (keywords case-insensitive; fields from `FIELDS` only)::

    screen     := [or_expr] [ORDER BY key ("," key)*] [LIMIT integer] END
    or_expr    := and_expr (OR and_expr)*
    and_expr   := not_expr (AND not_expr)*
    not_expr   := NOT not_expr | "(" or_expr ")" | predicate
    predicate  := field op literal
                | field [NOT] IN "(" literal ("," literal)* ")"
                | field [NOT] BETWEEN number AND number
                | field IS [NOT] NULL
    key        := field [ASC | DESC]
    op         := "<" | "<=" | ">" | ">=" | "=" | "!=" | "<>"
    literal    := number | string          (string: "..." or '...', no escapes)

The grammar has no place for function calls, comments, statement separators or expressions on
either side of a comparison, so nothing a user types ever becomes SQL text: the store compiles the
tree with identifiers from the catalogue and every literal as a bound parameter. Text fields take
only =, !=, IN and IS NULL; comparing a text field with a number (or the reverse) is an error.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Literal, NoReturn

from stocker.core.errors import DataError

FieldType = Literal["number", "text"]
Source = Literal["fundamentals", "factors", "risk", "sentiment", "instrument"]

MAX_EXPRESSION_CHARACTERS = 4000
MAX_DEPTH = 40
MAX_LIMIT = 1_000_000


@dataclass(frozen=True)
class FieldInfo:
    """A screenable field: where it comes from (SigmaQLab table) and its type."""

    name: str
    source: Source
    type: FieldType
    description: str


_CATALOGUE = """
market_cap         fundamentals number market capitalization
pe                 fundamentals number price to earnings (TTM)
pb                 fundamentals number price to book
ps                 fundamentals number price to sales
roe                fundamentals number return on equity (fraction)
roce               fundamentals number return on capital employed (fraction)
debt_to_equity     fundamentals number debt to equity
sales_growth_yoy   fundamentals number sales growth, year on year (fraction)
profit_growth_yoy  fundamentals number profit growth, year on year (fraction)
eps_growth_3y      fundamentals number 3-year EPS growth (fraction)
operating_margin   fundamentals number operating margin (fraction)
net_margin         fundamentals number net margin (fraction)
interest_coverage  fundamentals number interest coverage
promoter_holding   fundamentals number promoter holding (percent)
fii_holding        fundamentals number foreign institutional holding (percent)
dii_holding        fundamentals number domestic institutional holding (percent)
sector             fundamentals text   sector as of the date (else the instrument's)
industry           fundamentals text   industry as of the date (else the instrument's)
value              factors      number value exposure (z-score)
quality            factors      number quality exposure (z-score)
momentum           factors      number momentum exposure (z-score)
low_vol            factors      number low-volatility exposure (z-score)
size               factors      number size exposure (z-score)
composite_score    factors      number weighted composite of the factor exposures
volatility         risk         number annualized volatility
beta               risk         number beta to the benchmark
tail_beta          risk         number tail beta
skew               risk         number skewness of daily returns
kurtosis           risk         number kurtosis of daily returns
sentiment_1d       sentiment    number news sentiment of the latest news session up to the date
sentiment_5d       sentiment    number mean daily news sentiment over the last 5 news sessions
sentiment_20d      sentiment    number mean daily news sentiment over the last 20 news sessions
news_count_5d      sentiment    number articles about the symbol over the last 5 news sessions
symbol             instrument   text   ticker
name               instrument   text   company name
exchange           instrument   text   listing exchange
"""


def _fields() -> dict[str, FieldInfo]:
    found: dict[str, FieldInfo] = {}
    for line in filter(None, _CATALOGUE.splitlines()):
        name, source, kind, description = line.split(maxsplit=3)
        found[name] = FieldInfo(name, source, kind, description)  # type: ignore[arg-type]
    return found


FIELDS: dict[str, FieldInfo] = _fields()
"""The field catalogue: the only names a screen may use (and the only identifiers compiled)."""

KEYWORDS = frozenset(
    ("and", "or", "not", "in", "between", "is", "null", "order", "by", "asc", "desc", "limit")
)
COMPARISONS = ("<", "<=", ">", ">=", "=", "!=", "<>")
TEXT_COMPARISONS = ("=", "!=", "<>")


class ScreenError(DataError):
    """A screen that cannot be parsed: says why, where (a caret under the expression) and,
    for a misspelled name, the nearest field or keyword."""

    def __init__(
        self, reason: str, expression: str, position: int, suggestion: str | None = None
    ) -> None:
        self.reason = reason
        self.expression = expression
        self.position = position
        self.suggestion = suggestion
        shown = re.sub(r"\s", " ", expression)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(
            f"screen: {reason} at position {position + 1}{hint}\n  {shown}\n  {' ' * position}^"
        )


Value = float | str


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class Between:
    field: str
    low: float
    high: float
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    field: str
    negated: bool = False


@dataclass(frozen=True)
class Logic:
    op: Literal["and", "or"]
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Compare | InList | Between | IsNull | Logic | Not


@dataclass(frozen=True)
class OrderKey:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Screen:
    """A parsed screen: the filter (None keeps every row), the sort keys and the row limit."""

    expression: str
    where: Node | None
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None

    def fields(self) -> list[str]:
        """Fields the screen mentions, in order of first appearance."""
        found: list[str] = []

        def visit(node: Node) -> None:
            if isinstance(node, Logic):
                visit(node.left)
                visit(node.right)
            elif isinstance(node, Not):
                visit(node.operand)
            elif node.field not in found:
                found.append(node.field)

        if self.where is not None:
            visit(self.where)
        for key in self.order_by:
            if key.field not in found:
                found.append(key.field)
        return found


@dataclass(frozen=True)
class Token:
    kind: Literal["number", "string", "word", "op", "(", ")", ",", "end"]
    text: str
    position: int


_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATOR = re.compile(r"<=|>=|!=|<>|==|[<>=]")
_FORBIDDEN = {
    ";": "';' is not part of the screen language (one screen, no statements)",
    "--": "'--' comments are not part of the screen language",
    "/*": "'/*' comments are not part of the screen language",
    "#": "'#' comments are not part of the screen language",
}


def tokenize(expression: str) -> list[Token]:
    """Split a screen into tokens; anything the grammar does not know is a `ScreenError`."""
    tokens: list[Token] = []
    index = 0
    while index < len(expression):
        char = expression[index]
        if char.isspace():
            index += 1
            continue
        for start, reason in _FORBIDDEN.items():
            if expression.startswith(start, index):
                raise ScreenError(reason, expression, index)
        if char in "\"'":
            end = expression.find(char, index + 1)
            newline = expression.find("\n", index + 1)
            if end < 0 or 0 <= newline < end:
                raise ScreenError(f"unterminated string: add the closing {char}", expression, index)
            content = expression[index + 1 : end]
            control = next((i for i, c in enumerate(content) if c < " " or c == "\x7f"), None)
            if control is not None:
                raise ScreenError(
                    "control characters are not allowed in a string",
                    expression,
                    index + 1 + control,
                )
            tokens.append(Token("string", content, index))
            index = end + 1
            continue
        if match := _NUMBER.match(expression, index):
            tokens.append(Token("number", match.group(), index))
            index = match.end()
        elif match := _WORD.match(expression, index):
            tokens.append(Token("word", match.group(), index))
            index = match.end()
        elif match := _OPERATOR.match(expression, index):
            if match.group() == "==":
                raise ScreenError("use '=' to compare, not '=='", expression, index)
            tokens.append(Token("op", match.group(), index))
            index = match.end()
        elif char in "(),":
            tokens.append(Token(char, char, index))  # type: ignore[arg-type]
            index += 1
        else:
            raise ScreenError(f"unexpected character {char!r}", expression, index)
        follower = expression[index : index + 1]
        if tokens[-1].kind == "number" and follower and (follower.isalnum() or follower in "_.\"'"):
            raise ScreenError(
                "a number must be followed by a space, operator or bracket", expression, index
            )
    tokens.append(Token("end", "", len(expression)))
    return tokens


def _nearest(name: str, candidates: tuple[str, ...] | list[str]) -> str | None:
    found = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.6)
    return found[0] if found else None


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.index = 0
        self.depth = 0

    # helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def fail(
        self, reason: str, token: Token | None = None, suggestion: str | None = None
    ) -> NoReturn:
        at = token or self.token
        raise ScreenError(reason, self.expression, at.position, suggestion)

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.tokens[min(self.index + offset, len(self.tokens) - 1)]
        return token.kind == "word" and token.text.lower() == word

    def accept(self, word: str) -> bool:
        if self.is_keyword(word):
            self.index += 1
            return True
        return False

    def expect(self, kind: str, what: str) -> Token:
        token = self.token
        if token.kind != kind:
            self.fail(f"expected {what}, got {_describe(token)}")
        self.index += 1
        return token

    def expect_keyword(self, word: str) -> None:
        if not self.accept(word):
            token = self.token
            hint = _nearest(token.text, [word]) if token.kind == "word" else None
            self.fail(f"expected '{word}', got {_describe(token)}", suggestion=hint)

    # grammar

    def screen(self) -> Screen:
        if not self.expression.strip():
            self.fail("empty screen: write a filter such as 'pe < 20 and roe > 0.15'")
        where = None
        if not (self.is_keyword("order") or self.is_keyword("limit")):
            where = self.or_expr()
        order: list[OrderKey] = []
        if self.accept("order"):
            self.expect_keyword("by")
            order.append(self.order_key())
            while self.token.kind == ",":
                self.index += 1
                order.append(self.order_key())
        limit = None
        if self.accept("limit"):
            limit = self.limit()
        if self.token.kind != "end":
            token = self.token
            hint = None
            if token.kind == "word":
                hint = _nearest(token.text, ["and", "or", "order", "limit"])
            self.fail(
                f"expected 'and', 'or', 'order by', 'limit' or the end, got {_describe(token)}",
                suggestion=hint,
            )
        return Screen(self.expression, where, tuple(order), limit)

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.accept("or"):
            node = Logic("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.accept("and"):
            node = Logic("and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep")
        try:
            if self.accept("not"):
                return Not(self.not_expr())
            if self.token.kind == "(":
                self.index += 1
                node = self.or_expr()
                self.expect(")", "')' closing the bracket")
                return node
            return self.predicate()
        finally:
            self.depth -= 1

    def field(self) -> FieldInfo:
        token = self.token
        if token.kind != "word" or token.text.lower() in KEYWORDS:
            self.fail(f"expected a field name, got {_describe(token)}")
        name = token.text.lower()
        info = FIELDS.get(name)
        if info is None:
            if self.tokens[self.index + 1].kind == "(":
                self.fail(f"function calls are not part of the screen language ({token.text}(…))")
            self.fail(
                f"unknown field {token.text!r} (see `stocker screen --fields`)",
                suggestion=_nearest(name, list(FIELDS)),
            )
        self.index += 1
        if self.token.kind == "(":
            self.fail(f"function calls are not part of the screen language ({token.text}(…))")
        return FIELDS[name]

    def predicate(self) -> Node:
        info = self.field()
        token = self.token
        if token.kind == "op":
            self.index += 1
            if info.type == "text" and token.text not in TEXT_COMPARISONS:
                self.fail(f"{info.name} is text: compare it with =, != or in (…)", token)
            op = "!=" if token.text == "<>" else token.text
            return Compare(info.name, op, self.literal(info))
        if self.accept("is"):
            negated = self.accept("not")
            self.expect_keyword("null")
            return IsNull(info.name, negated)
        negated = self.accept("not")
        if self.accept("in"):
            self.expect("(", "'(' opening the list")
            values = [self.literal(info)]
            while self.token.kind == ",":
                self.index += 1
                values.append(self.literal(info))
            self.expect(")", "')' closing the list")
            return InList(info.name, tuple(values), negated)
        if self.is_keyword("between"):
            if info.type == "text":
                self.fail(f"{info.name} is text: between needs a number field")
            self.index += 1
            low = self.literal(info)
            self.expect_keyword("and")
            high = self.literal(info)
            assert isinstance(low, float) and isinstance(high, float)
            return Between(info.name, low, high, negated)
        hint = _nearest(token.text, ["in", "between", "is"]) if token.kind == "word" else None
        self.fail(
            f"expected a comparison (<, <=, >, >=, =, !=), in, between or is after "
            f"{info.name}, got {_describe(token)}",
            suggestion=hint,
        )

    def literal(self, info: FieldInfo) -> Value:
        token = self.token
        if token.kind == "number":
            if info.type == "text":
                self.fail(f"{info.name} is text: compare it with a quoted string, not a number")
            value = float(token.text)
            if not math.isfinite(value):
                self.fail(f"number {token.text} is out of range")
            self.index += 1
            return value
        if token.kind == "string":
            if info.type == "number":
                self.fail(f"{info.name} is a number: compare it with a number, not a string")
            self.index += 1
            return token.text
        expected = "a number" if info.type == "number" else "a quoted string"
        if token.kind == "word" and token.text.lower() in FIELDS:
            self.fail(f"expected {expected}, got field {token.text!r} (compare with values only)")
        self.fail(f"expected {expected}, got {_describe(token)}")

    def order_key(self) -> OrderKey:
        info = self.field()
        if self.accept("desc"):
            return OrderKey(info.name, descending=True)
        self.accept("asc")
        return OrderKey(info.name)

    def limit(self) -> int:
        token = self.token
        if token.kind != "number" or not token.text.isdigit():
            self.fail(f"limit needs a whole number, got {_describe(token)}")
        value = int(token.text)
        if not 1 <= value <= MAX_LIMIT:
            self.fail(f"limit must be between 1 and {MAX_LIMIT:,}")
        self.index += 1
        return value


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the screen"
    if token.kind == "string":
        return f"string {token.text!r}"
    return f"{token.text!r}"


def parse(expression: str) -> Screen:
    """The syntax tree of a screen, or `ScreenError` pointing at what is wrong."""
    if len(expression) > MAX_EXPRESSION_CHARACTERS:
        raise ScreenError(
            f"longer than {MAX_EXPRESSION_CHARACTERS} characters",
            expression[:80],
            0,
        )
    return _Parser(expression).screen()
