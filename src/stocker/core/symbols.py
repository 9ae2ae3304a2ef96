"""What a ticker symbol may look like: one check for files, vendors and the command line.

A symbol is compared byte for byte everywhere (keys, joins, events), so two spellings that look
alike would be two instruments: `AAPL` followed by a zero-width space, or with a Cyrillic `А`.
Symbols are therefore normalized (Unicode NFKC, which turns full-width `ＡＡＰＬ` into `AAPL`,
and surrounding blanks removed) and then must consist only of the characters real tickers use:
ASCII letters and digits and ``. - ^ = / &`` (`BRK.B`, `BAJAJ-AUTO`, `^GSPC`, `EURUSD=X`,
`BRK/B`, `M&M`). Anything else — invisible or control characters, spaces, quotes, semicolons,
letters of other scripts — is refused with the character named.
"""

from __future__ import annotations

import string
import unicodedata

import pandas as pd

from stocker.core.errors import DataError

SYMBOL_PUNCTUATION = ".-^=/&"
SYMBOL_CHARACTERS = frozenset(string.ascii_letters + string.digits + SYMBOL_PUNCTUATION)
"""Every character a normalized symbol may hold."""
SYMBOL_INVALID = "symbol_invalid"
"""Rule code of a symbol holding a character tickers do not use."""
_INVISIBLE_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Co": "a private-use character",
    "Cs": "a surrogate",
    "Cn": "an unassigned code point",
    "Zs": "a space",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def normalize_symbol(symbol: str) -> str:
    """`symbol` in NFKC form without surrounding blanks (nothing else is changed)."""
    return unicodedata.normalize("NFKC", symbol).strip()


def describe_character(character: str) -> str:
    """`U+200B ZERO WIDTH SPACE`: a character named so that an invisible one can be seen."""
    name = unicodedata.name(character, "")
    code = f"U+{ord(character):04X}"
    return f"{code} {name}" if name else code


def symbol_problem(symbol: str) -> str | None:
    """Why the normalized `symbol` is not a ticker (its first bad character), or None.

    Blank and over-long symbols are the `bad_symbol` rule's business, not this one's.
    """
    for character in symbol:
        if character in SYMBOL_CHARACTERS:
            continue
        category = unicodedata.category(character)
        kind = _INVISIBLE_CATEGORIES.get(category, "a character tickers do not use")
        return (
            f"symbol {symbol!r} contains {describe_character(character)} ({kind}); symbols "
            f"use only ASCII letters, digits and {' '.join(SYMBOL_PUNCTUATION)}"
        )
    return None


def checked_symbol(symbol: str) -> str:
    """The normalized `symbol`, or a `DataError` naming the character that is not allowed."""
    if not isinstance(symbol, str):
        raise DataError(f"symbol {symbol!r} is not text")
    normalized = normalize_symbol(symbol)
    if not normalized:
        raise DataError(f"symbol {symbol!r} is blank; expected a ticker such as AAPL")
    problem = symbol_problem(normalized)
    if problem is not None:
        raise DataError(problem)
    return normalized


def normalized_symbols(values: pd.Series) -> pd.Series:
    """`normalize_symbol` of every text value (missing values kept), computed once per distinct
    value so a file of millions of rows over a few symbols costs a few calls."""
    present = values.notna()
    if not present.any():
        return values
    distinct = {value: normalize_symbol(str(value)) for value in pd.unique(values[present])}
    return values.astype(object).where(~present, values[present].map(distinct))


def symbol_problems(values: pd.Series) -> pd.Series:
    """Per value, why its normalized form is not a ticker (`symbol_problem`), or None."""
    present = values.notna()
    problems = pd.Series(None, index=values.index, dtype=object)
    if not present.any():
        return problems
    distinct = {
        value: symbol_problem(normalize_symbol(str(value))) for value in pd.unique(values[present])
    }
    problems[present] = values[present].map(distinct)
    return problems


def invisible_characters(symbol: str) -> list[str]:
    """Each invisible or control character in `symbol`, described (`describe_character`).

    Zero-width spaces, byte-order marks, soft hyphens, control characters and non-ASCII spaces
    make a symbol that looks like another; a plain ASCII space is left to the caller.
    """
    found = []
    for character in symbol:
        if character == " " or character in SYMBOL_CHARACTERS:
            continue
        if unicodedata.category(character) in _INVISIBLE_CATEGORIES:
            described = describe_character(character)
            if described not in found:
                found.append(described)
    return found
