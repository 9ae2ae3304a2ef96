"""Why a row was refused: one `Reject` type for every table and every stage that refuses rows.

A rule reports a `Reason(rule, message)`: the rule code is a field, never parsed back out of the
text. The quarantine stores each reason's `text` (``"<rule>: <message>"``, or the message alone
for reasons written by someone other than a rule — a source that could not parse a row, a column
type that refused a value — whose wording is already complete).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

UNPARSEABLE = "unparseable"
"""Rule code of a row the source could not parse (its reasons are the source's own words)."""
COLUMN_TYPE = "column_type"
"""Rule code of a row whose values the column types refused (length, precision, NOT NULL)."""


@dataclass(frozen=True)
class Reason:
    """One broken rule: its code and a message naming the field, the value and what was expected."""

    rule: str
    message: str
    prefixed: bool = True
    """Whether `text` starts with the rule code (False for reasons worded in full elsewhere)."""

    @classmethod
    def verbatim(cls, rule: str, text: str) -> Reason:
        """A reason whose stored text is `text` exactly, counted under `rule`."""
        return cls(rule, text, prefixed=False)

    @property
    def text(self) -> str:
        """The reason as stored and shown: ``"<rule>: <message>"`` (or the message alone)."""
        return f"{self.rule}: {self.message}" if self.prefixed else self.message

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Reject:
    """A refused row of `table`: where it was, the raw values as they arrived, every reason."""

    table: str
    row_number: int | None
    raw_row: Mapping[Any, object]
    """Column (or the source's header) → the value as it arrived."""
    reasons: tuple[Reason, ...]

    @property
    def texts(self) -> tuple[str, ...]:
        """The reasons as stored in the quarantine."""
        return tuple(reason.text for reason in self.reasons)

    @property
    def rules(self) -> frozenset[str]:
        """The codes of the rules this row broke."""
        return frozenset(reason.rule for reason in self.reasons)
