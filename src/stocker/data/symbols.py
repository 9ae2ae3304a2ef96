"""Which symbols a use case works on: one check of a caller's list, one default of "all priced".

Passing a bare string where a list of symbols is expected is an easy slip (``"AAPL"`` iterates
as ``A, A, P, L``), so every use case that takes symbols checks them here; each symbol is also
normalized and checked by `stocker.core.symbols.checked_symbol` (the rule ingestion applies), so
`AAPL` with a zero-width space is refused with the character named instead of matching nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from stocker.core.errors import DataError
from stocker.core.symbols import checked_symbol

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork


def checked_symbols(symbols: Iterable[str], *, required: bool = False) -> list[str]:
    """Distinct normalized symbols, sorted; a bare string or a symbol holding a character tickers
    do not use raises, and so does none at all if `required`."""
    if isinstance(symbols, str):
        raise DataError(f"symbols is the string {symbols!r}; expected a list of symbols")
    chosen = sorted({checked_symbol(str(symbol)) for symbol in symbols})
    if required and not chosen:
        raise DataError("symbols is empty; expected at least one symbol")
    return chosen


def priced_symbols(uow: SqlUnitOfWork, symbols: Iterable[str] | None = None) -> list[str]:
    """`symbols` checked, or (None) every symbol with a daily bar; inside an open unit of work.

    A named symbol without daily bars is a `DataError` saying whether Stocker does not know it
    at all or knows it but holds no prices, rather than a silent run over nothing.
    """
    if symbols is None:
        return uow.bars.symbols_with_prices()
    chosen = checked_symbols(symbols)
    unpriced = uow.bars.unpriced(chosen)
    if unpriced:
        unknown = set(uow.instruments.unknown(unpriced))
        parts = []
        if unknown:
            parts.append(f"unknown symbol(s) {', '.join(sorted(unknown))}")
        known = [symbol for symbol in unpriced if symbol not in unknown]
        if known:
            parts.append(f"no daily prices for {', '.join(known)}")
        raise DataError(
            "; ".join(parts) + ": check the spelling, or load their daily bars first "
            "(stocker data ingest)"
        )
    return chosen
