"""What `optimize` refuses before any numerics, and the notes it adds about what it was given.

A returns table is read as simple fractional returns per period, one row per date, one column
per symbol. Anything that cannot be that for sure is refused naming the field and the reason:
symbols with invisible characters or that collide once blanks are stripped, a repeated date,
text columns (naming a sample value, and saying so when it looks like a decimal-comma number),
NaN/inf (naming the symbols and the first date), and values that look like percentages or
prices (see `PLAUSIBLE_*`). Thresholds are set so that no real table of returns trips them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.symbols import invisible_characters, normalize_symbol

PLAUSIBLE_MEDIAN_ABS_RETURN = 0.2
"""Largest median |return| accepted when some |return| exceeds 1 (a 100% move in one period).

Daily equity returns have a median |r| near 0.01, monthly near 0.05; percentages (5.0 = 5%)
have one near 0.5–1 and prices one above 1. A lone +134% day (GME, 2021-01-27) passes."""
PLAUSIBLE_ANNUAL_RETURN = 5.0
"""Largest |expected return| accepted, annualised (500% a year): 12 meant as 12% is refused."""
PLAUSIBLE_ANNUAL_VOLATILITY = 2.0
"""Largest `target_volatility_annual` accepted (200% a year): 15 meant as 15% is refused."""
PLAUSIBLE_TURNOVER = 2.0
"""Largest turnover limit accepted without a larger gross limit (long-only turnover is ≤ 1)."""
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


def checked_symbols(columns: Iterable[object]) -> list[str]:
    """The symbols of `returns.columns` as text, refusing any that could be misread."""
    symbols = [str(s) for s in columns]
    for symbol in symbols:
        hidden = invisible_characters(symbol)
        if hidden:
            raise DataError(
                f"returns: column {symbol!r} contains {', '.join(hidden)}; expected a symbol "
                "without invisible characters (they make it a different instrument)"
            )
        if symbol != symbol.strip():
            raise DataError(
                f"returns: column {symbol!r} has blanks around it; expected the bare symbol "
                f"{symbol.strip()!r}"
            )
    seen: dict[str, str] = {}
    for symbol in symbols:
        key = normalize_symbol(symbol)
        if key in seen:
            if seen[key] == symbol:
                raise DataError(f"returns: duplicate symbol columns ({symbol!r} twice)")
            raise DataError(
                f"returns: columns {seen[key]!r} and {symbol!r} are the same symbol once "
                "normalized (Unicode NFKC); expected each symbol once"
            )
        seen[key] = symbol
    return symbols


def checked_returns(returns: object) -> pd.DataFrame:
    """`returns` as float64 (the same frame when already numeric), or a DataError saying why."""
    if not isinstance(returns, pd.DataFrame):
        raise DataError("returns: expected a DataFrame with dates as rows and symbols as columns")
    repeated = returns.index[returns.index.duplicated()]
    if len(repeated):
        raise DataError(
            f"returns: the index repeats {_label(repeated[0])} ({len(repeated)} repeated rows); "
            "expected one row per date (a repeated row would count twice)"
        )
    returns = _numeric(returns)
    values = returns.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        rows, cols = np.nonzero(bad)
        names = [str(returns.columns[c]) for c in sorted(set(cols.tolist()))]
        raise DataError(
            f"returns: expected finite values, found {rows.size} NaN/inf in {names[:10]} "
            f"(first: {str(returns.columns[cols[0]])!r} on {_label(returns.index[rows[0]])}); "
            "drop or fill them first"
        )
    _refuse_implausible(values)
    return returns


def _numeric(returns: pd.DataFrame) -> pd.DataFrame:
    """Refuse text, booleans and dates; object columns holding only numbers become float64."""
    plain = all(
        isinstance(dtype, np.dtype) and dtype.kind in "fiu" for dtype in set(returns.dtypes)
    )
    if plain:  # every column already a number type: nothing to look at column by column
        return returns
    converted = {}
    for column, dtype in returns.dtypes.items():
        textual = pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
        if pd.api.types.is_bool_dtype(dtype) or not (
            pd.api.types.is_numeric_dtype(dtype) or textual
        ):
            raise DataError(f"returns: column {str(column)!r} is {dtype}, expected numbers")
        if not textual:
            continue
        values = returns[column]
        odd = [
            v
            for v in values
            if not _missing(v) and (not isinstance(v, Real) or isinstance(v, bool))
        ]
        if odd:
            sample = odd[0]
            hint = ""
            if isinstance(sample, str) and _DECIMAL_COMMA.match(sample):
                hint = (
                    " (it looks like a decimal-comma number: read the file with decimal=',' "
                    "and thousands='.')"
                )
            raise DataError(
                f"returns: column {str(column)!r} holds {type(sample).__name__} values such as "
                f"{sample!r}, expected numbers{hint}"
            )
        converted[column] = values.astype(np.float64)
    if not converted:
        return returns
    frame = returns.copy()
    for column, values in converted.items():
        frame[column] = values
    return frame


def _refuse_implausible(values: np.ndarray) -> None:
    """Refuse values that cannot be simple fractional returns (see the module docstring)."""
    if values.size == 0:
        return
    lowest = float(values.min())
    if lowest < -1.0:
        raise DataError(
            f"returns: values down to {lowest:.4g} look like percentages or log returns, "
            "expected fractional simple returns (0.01 = 1%; a loss beyond -1 = -100% is "
            "impossible)"
        )
    largest = float(values.max())
    if largest <= 1.0:
        return
    median = float(np.median(np.abs(values)))
    if median > PLAUSIBLE_MEDIAN_ABS_RETURN:
        raise DataError(
            f"returns: values up to {largest:.4g} (median |r| {median:.3g}) look like "
            "percentages or prices, expected fractional returns (0.01 = 1%)"
        )


def _label(value: object) -> str:
    """A date as 2024-01-31; any other index label as `row label …`."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    return f"row label {value!r}"


def check_expected(
    mu: np.ndarray | None, symbols: Sequence[str], periods_per_year: int, name: str
) -> None:
    """Refuse expected returns above `PLAUSIBLE_ANNUAL_RETURN` a year (a percentage, surely)."""
    if mu is None or not len(mu):
        return
    annual = np.abs(np.asarray(mu, dtype=np.float64)) * periods_per_year
    worst = int(np.argmax(annual))
    if annual[worst] > PLAUSIBLE_ANNUAL_RETURN:
        raise DataError(
            f"{name}: {symbols[worst]!r} is {float(mu[worst]):.4g} per period "
            f"({float(annual[worst]):.4g} a year at {periods_per_year} periods), which looks "
            f"like a percentage; expected fractional returns (0.01 = 1%) within "
            f"±{PLAUSIBLE_ANNUAL_RETURN:g} a year"
        )


def rank_note(values: np.ndarray, symbols: Sequence[str]) -> str | None:
    """A note when the sample covariance of `values` is singular because T − 1 < N."""
    n_rows, n_assets = values.shape
    if n_rows - 1 >= n_assets:
        return None
    rank = int(np.linalg.matrix_rank(values - values.mean(axis=0)))
    return (
        f"covariance: rank {rank} < {n_assets} assets ({n_rows} dates): the sample covariance "
        "is singular, so some mixes of assets look riskless in this window; the minimum "
        "variance and risk figures are unreliable (use more dates than assets or a shrinkage "
        "estimator such as LedoitWolf)"
    )


def zero_variance_note(
    sigma: np.ndarray, weights: np.ndarray, symbols: Sequence[str], method: str
) -> str | None:
    """A note naming the zero-variance assets given weight (constant returns: stale or cash)."""
    variances = np.diag(np.asarray(sigma, dtype=np.float64))
    scale = float(np.max(variances, initial=0.0))
    flat = [
        f"{s} {w:.4g}"
        for s, v, w in zip(symbols, variances, weights, strict=True)
        if v <= scale * 1e-12 and abs(w) > 1e-6
    ]
    if not flat:
        return None
    return (
        f"{method}: weight in zero-variance asset(s) {', '.join(flat[:10])}: their returns "
        "never move in this window (stale prices, a suspended listing, or cash), so they look "
        "riskless; check the prices before trading on it"
    )


def zero_variance_symbols(sigma: np.ndarray, symbols: Sequence[str]) -> list[str]:
    """Symbols whose variance is zero (or negative from round-off) in `sigma`."""
    variances = np.diag(np.asarray(sigma, dtype=np.float64))
    return [s for s, v in zip(symbols, variances, strict=True) if not v > 0]


def unmatched_sector_caps(
    sector_caps: Mapping[str, float], sectors: Mapping[str, str], symbols: Iterable[str]
) -> list[str]:
    """Sector caps naming no symbol's sector in the universe (a typo, most likely)."""
    present = {sectors[s] for s in symbols if s in sectors}
    return sorted(set(sector_caps) - present)


def check_turnover(value: float | None, name: str, gross_limit: float | None) -> None:
    """Refuse a turnover limit above what any portfolio could trade (a percentage, surely)."""
    if value is None:
        return
    ceiling = max(PLAUSIBLE_TURNOVER, gross_limit or 0.0)
    if value > ceiling:
        raise DataError(
            f"{name}: got {value}, which looks like a percentage; expected a fraction of NAV "
            f"at most {ceiling:g} (one-way turnover of a long-only portfolio is at most 1; "
            "0.2 = 20%)"
        )


def check_volatility(value: float | None) -> None:
    """Refuse a volatility cap above `PLAUSIBLE_ANNUAL_VOLATILITY` (a percentage, surely)."""
    if value is not None and value > PLAUSIBLE_ANNUAL_VOLATILITY:
        raise DataError(
            f"target_volatility_annual: got {value}, which looks like a percentage; expected "
            f"a fraction at most {PLAUSIBLE_ANNUAL_VOLATILITY:g} (0.15 = 15% a year)"
        )


def check_expected_inputs(expected: object, returns: pd.DataFrame, periods_per_year: int) -> None:
    """Refuse given expected returns or Black–Litterman views that look like percentages."""
    from stocker.core.optimize.expected_returns import BlackLitterman

    if isinstance(expected, pd.Series):
        values = pd.to_numeric(expected, errors="coerce").to_numpy(dtype=np.float64)
        finite = np.where(np.isfinite(values), values, 0.0)
        check_expected(
            finite, [str(s) for s in expected.index], periods_per_year, "expected_returns"
        )
    elif isinstance(expected, BlackLitterman):
        _, q = expected.views(returns.columns)
        if expected.absolute_views:
            labels = [str(s) for s in expected.absolute_views]
        elif isinstance(expected.P, pd.DataFrame):
            labels = [str(s) for s in expected.P.index]
        else:
            labels = [f"view {k}" for k in range(len(q))]
        check_expected(np.asarray(q, dtype=np.float64), labels, periods_per_year, "views")


def _missing(value: object) -> bool:
    """None and pd.NA in a text column: missing, refused later as NaN naming the symbol."""
    return value is None or value is pd.NA
