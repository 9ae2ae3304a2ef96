"""Compile a parsed screen (`stocker.core.screener.Screen`) to parameterized SQL.

Only two kinds of text reach the SQL: fixed fragments written here (keywords, operators) and
column names taken from the field catalogue (`FIELDS`), double-quoted. Every value the user typed
(numbers, strings, the limit) becomes a bound parameter ``:p0, :p1, …``; nothing is concatenated.
The filter and sort run over `screened`, the one-row-per-symbol relation that
`ScreenRepository.run` builds as of a date, whose columns are exactly the catalogue's names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stocker.core.errors import DataError
from stocker.core.screener import (
    COMPARISONS,
    FIELDS,
    Between,
    Compare,
    InList,
    IsNull,
    Logic,
    Node,
    Not,
    Screen,
)

_SQL_OPERATORS = {op: ("<>" if op in ("!=", "<>") else op) for op in COMPARISONS}


@dataclass(frozen=True)
class CompiledScreen:
    """SQL fragments over `screened` and their bound parameters.

    `where` is a boolean SQL expression (``TRUE`` for no filter), `order_by` a sort list (without
    the final tie-break on symbol), `limit_parameter` the name of the bound limit, if any.
    """

    screen: Screen
    where: str
    order_by: str
    parameters: dict[str, Any] = field(default_factory=dict)
    limit_parameter: str | None = None


class _Compiler:
    def __init__(self) -> None:
        self.parameters: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.parameters)}"
        self.parameters[name] = value
        return f":{name}"

    def node(self, node: Node) -> str:
        if isinstance(node, Logic):
            joiner = " AND " if node.op == "and" else " OR "
            return f"({self.node(node.left)}{joiner}{self.node(node.right)})"
        if isinstance(node, Not):
            return f"(NOT {self.node(node.operand)})"
        column = column_sql(node.field)
        if isinstance(node, Compare):
            return f"({column} {_SQL_OPERATORS[node.op]} {self.bind(node.value)})"
        if isinstance(node, InList):
            listed = ", ".join(self.bind(value) for value in node.values)
            return f"({column} {'NOT IN' if node.negated else 'IN'} ({listed}))"
        if isinstance(node, Between):
            keyword = "NOT BETWEEN" if node.negated else "BETWEEN"
            return f"({column} {keyword} {self.bind(node.low)} AND {self.bind(node.high)})"
        if isinstance(node, IsNull):
            return f"({column} IS {'NOT NULL' if node.negated else 'NULL'})"
        raise TypeError(f"not a screen node: {node!r}")


def column_sql(name: str) -> str:
    """The quoted column of catalogue field `name`; anything else is refused."""
    if name not in FIELDS:
        raise DataError(f"screen: {name!r} is not a screen field")
    return f'"{name}"'


def compile_screen(screen: Screen) -> CompiledScreen:
    """The screen's WHERE and ORDER BY over `screened`, every literal a bound parameter."""
    compiler = _Compiler()
    where = "TRUE" if screen.where is None else compiler.node(screen.where)
    keys = [
        f"{column_sql(key.field)} {'DESC' if key.descending else 'ASC'} NULLS LAST"
        for key in screen.order_by
    ]
    limit = None if screen.limit is None else compiler.bind(screen.limit)[1:]
    return CompiledScreen(
        screen=screen,
        where=where,
        order_by=", ".join(keys),
        parameters=compiler.parameters,
        limit_parameter=limit,
    )
