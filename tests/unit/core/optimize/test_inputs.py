"""Inputs `optimize` must never misread: each is refused naming the field, or answered with a note.

The cases are the newcomer trial's reproductions (R1–R19), on the real 20-stock sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.optimize import (
    BlackLitterman,
    ConflictingConstraintsError,
    Constraints,
    optimize,
)
from stocker.core.optimize.inputs import PLAUSIBLE_MEDIAN_ABS_RETURN, unmatched_sector_caps

CONVEX_AND_TREES = ("min_variance", "max_sharpe", "risk_parity", "hrp", "herc", "min_cvar")


@pytest.fixture(scope="module")
def window(returns: pd.DataFrame) -> pd.DataFrame:
    """Five symbols over a year: small enough for every method to answer quickly."""
    return returns.iloc[-252:, :5]


# R1–R3, R9, R16: mappings and Series in Constraints


def test_constraints_when_previous_weights_is_the_last_answer_uses_its_values(
    window: pd.DataFrame,
) -> None:
    last = optimize(window, "max_sharpe")

    from_series = optimize(
        window, "max_sharpe", Constraints(previous_weights=last, turnover_limit=0.1)
    )
    from_dict = optimize(
        window, "max_sharpe", Constraints(previous_weights=last.to_dict(), turnover_limit=0.1)
    )

    pd.testing.assert_series_equal(from_series, from_dict)
    assert 0.5 * (from_series - last).abs().sum() <= 0.1 + 1e-6


def test_constraints_when_bounds_sectors_betas_costs_are_series_equal_the_dict_form(
    window: pd.DataFrame,
) -> None:
    symbols = list(window.columns)
    sectors = dict(zip(symbols, ["T", "T", "E", "E", "H"], strict=True))
    as_dicts = Constraints(
        max_weight=dict.fromkeys(symbols, 0.3),
        min_weight=dict.fromkeys(symbols, 0.02),
        sectors=sectors,
        sector_caps={"T": 0.25},
        betas=dict.fromkeys(symbols, 1.0),
        max_beta=1.1,
        transaction_cost_bps=dict.fromkeys(symbols, 5.0),
    )
    as_series = Constraints(
        max_weight=pd.Series(0.3, index=window.columns),
        min_weight=pd.Series(0.02, index=window.columns),
        sectors=pd.Series(sectors),
        sector_caps=pd.Series({"T": 0.25}),
        betas=pd.Series(1.0, index=window.columns),
        max_beta=1.1,
        transaction_cost_bps=pd.Series(5.0, index=window.columns),
    )

    assert as_series == as_dicts
    weights = optimize(window, "min_variance", as_series)
    assert weights.iloc[:2].sum() <= 0.25 + 1e-6  # sector "T"
    pd.testing.assert_series_equal(weights, optimize(window, "min_variance", as_dicts))
    assert weights.max() <= 0.3 + 1e-6


def test_constraints_when_keyed_by_integers_match_integer_columns(window: pd.DataFrame) -> None:
    numbered = window.set_axis(range(5), axis=1)

    weights = optimize(numbered, constraints=Constraints(max_weight=dict.fromkeys(range(5), 0.21)))

    assert weights.max() <= 0.21 + 1e-6
    assert weights.max() == pytest.approx(0.21, abs=1e-5)  # the cap binds


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("previous_weights", {"A": float("nan"), "B": 1.0}, r"previous_weights\['A'\]: got nan"),
        ("max_weight", pd.Series({"A": 0.5, "B": np.inf}), r"max_weight\['B'\]: got inf"),
        ("betas", {"A": 1.0, "B": None}, r"betas\['B'\]: got None"),
        ("transaction_cost_bps", {"A": "5"}, r"transaction_cost_bps\['A'\]: got '5'"),
        ("sector_caps", {"Tech": float("nan")}, r"sector_caps\['Tech'\]: got nan"),
        ("sectors", pd.Series({"A": "Tech", "B": np.nan}), r"sectors: got nan for 'B'"),
        ("factor_bounds", {"value": (0.0, np.nan)}, r"factor_bounds\['value'\]: got nan"),
        ("min_weight", float("nan"), r"min_weight: got nan"),
    ],
)
def test_constraints_when_a_value_is_not_a_finite_number_refuse_naming_field_and_key(
    field: str, value: object, expected: str
) -> None:
    extra: dict[str, object] = {}
    if field == "factor_bounds":
        extra["factor_exposures"] = {"value": {"A": 0.1}}
    with pytest.raises(DataError, match=expected):
        Constraints(**{field: value}, **extra)  # type: ignore[arg-type]


def test_constraints_when_keys_collide_as_text_refuse_naming_the_key() -> None:
    with pytest.raises(DataError, match=r"max_weight: '1' appears twice"):
        Constraints(max_weight={1: 0.2, "1": 0.3})


# R4, R15, R19: the returns table itself


def test_returns_when_dates_repeat_refuse_naming_the_first_repeated_date(
    window: pd.DataFrame,
) -> None:
    doubled = pd.concat([window, window.iloc[-50:]])
    first = window.index[-50].date().isoformat()

    for method in ("equal_weight", "min_variance"):
        with pytest.raises(DataError, match=f"returns: the index repeats {first} \\(50 repeated"):
            optimize(doubled, method)  # type: ignore[arg-type]


def test_returns_when_read_without_decimal_comma_refuse_naming_column_and_value(
    window: pd.DataFrame,
) -> None:
    text = window.map(lambda value: f"{value:.4f}".replace(".", ","))

    with pytest.raises(
        DataError, match=r"column '\w+' holds str values such as '-?0,\d+'.*decimal"
    ):
        optimize(text, "min_variance")


def test_returns_when_a_column_holds_words_refuse_without_the_decimal_hint(
    window: pd.DataFrame,
) -> None:
    worded = window.astype(object)
    worded.iloc[3, 2] = "n/a"

    with pytest.raises(DataError, match=r"holds str values such as 'n/a', expected numbers$"):
        optimize(worded, "min_variance")


def test_returns_when_object_columns_hold_numbers_answer_as_the_floats_do(
    window: pd.DataFrame,
) -> None:
    pd.testing.assert_series_equal(
        optimize(window.astype(object), "min_variance"), optimize(window, "min_variance")
    )


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["A", "A ", "C", "D", "E"], r"column 'A ' has blanks around it"),
        (["A", "A\u200b", "C", "D", "E"], r"U\+200B ZERO WIDTH SPACE"),
        (["\ufeffA", "B", "C", "D", "E"], r"U\+FEFF"),
        (["A", "B\u00adC", "C", "D", "E"], r"U\+00AD SOFT HYPHEN"),
        (["A", "\uff21", "C", "D", "E"], r"columns 'A' and 'Ａ' are the same symbol"),
    ],
)
def test_returns_when_symbols_hide_characters_or_collide_refuse_naming_them(
    window: pd.DataFrame, names: list[str], expected: str
) -> None:
    with pytest.raises(DataError, match=expected):
        optimize(window.set_axis(names, axis=1), "min_variance")


# R5, R6, R17: values that look like percentages or prices


def test_returns_when_percentages_refuse_as_percentages(window: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"look like percentages .*expected fractional"):
        optimize(window * 100, "mean_variance")


def test_returns_when_prices_refuse_as_prices(window: pd.DataFrame) -> None:
    prices = 100 * (1 + window).cumprod()

    with pytest.raises(DataError, match=r"values up to \d+.* look like percentages or prices"):
        optimize(prices, "min_variance")


def test_returns_when_one_real_day_exceeds_100_percent_still_answer(
    window: pd.DataFrame,
) -> None:
    squeezed = window.copy()
    squeezed.iloc[100, 0] = 1.348  # GME on 2021-01-27
    assert float(squeezed.abs().median().median()) < PLAUSIBLE_MEDIAN_ABS_RETURN

    weights = optimize(squeezed, "min_variance")

    assert weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("target_volatility_annual", 15, r"target_volatility_annual: got 15, which looks like"),
        ("turnover_limit", 20, r"turnover_limit: got 20, which looks like a percentage"),
        ("per_asset_turnover_limit", 5, r"per_asset_turnover_limit: got 5, which looks like"),
        ("target_volatility_annual", float("inf"), r"target_volatility_annual: got inf"),
    ],
)
def test_constraints_when_limits_look_like_percentages_refuse(
    field: str, value: float, expected: str
) -> None:
    with pytest.raises(DataError, match=expected):
        Constraints(**{field: value})  # type: ignore[arg-type]


def test_constraints_when_limits_are_plausible_fractions_accept_them() -> None:
    Constraints(target_volatility_annual=2.0, turnover_limit=2.0, per_asset_turnover_limit=1.0)
    Constraints(long_only=False, gross_limit=3.0, turnover_limit=2.5)


def test_expected_returns_when_a_percentage_refuse_naming_the_symbol(
    window: pd.DataFrame,
) -> None:
    mu = window.mean()
    mu.iloc[1] = 12 / 252  # 12 meant as 12% a year

    with pytest.raises(DataError, match=rf"expected_returns: '{window.columns[1]}' .*percentage"):
        optimize(window, "max_sharpe", expected_returns=mu)
    assert optimize(window, "max_sharpe", expected_returns=window.mean()).sum() == pytest.approx(1)


def test_views_when_a_percentage_refuse_naming_the_symbol(window: pd.DataFrame) -> None:
    symbol = str(window.columns[0])
    model = BlackLitterman(
        absolute_views={symbol: 12 / 252}, market_caps=dict.fromkeys(window.columns, 1.0)
    )

    with pytest.raises(DataError, match=rf"views: '{symbol}' is .* a year"):
        optimize(window, "max_sharpe", expected_returns=model)


# R7: a sector cap on a sector no asset has


def test_sector_cap_when_no_asset_has_the_sector_refuse_naming_it(window: pd.DataFrame) -> None:
    sectors = dict(zip(window.columns, "TTEEH", strict=True))

    with pytest.raises(DataError, match=r"sector_caps: 'Tech' is the sector of no asset"):
        optimize(window, "max_sharpe", Constraints(sectors=sectors, sector_caps={"Tech": 0.1}))
    assert unmatched_sector_caps({"T": 0.1, "X": 0.2}, sectors, window.columns) == ["X"]


# R8: previous weights that do not sum to 1


def test_turnover_conflict_when_previous_weights_sum_to_2_states_the_sum(
    window: pd.DataFrame,
) -> None:
    previous = dict.fromkeys(window.columns, 0.4)

    with pytest.raises(ConflictingConstraintsError, match=r"previous weights sum to 2, not 1"):
        optimize(window, "max_sharpe", Constraints(previous_weights=previous, turnover_limit=0.2))


# R10, R11, R12, R18: singular and zero-variance covariances


def test_min_variance_when_fewer_dates_than_assets_notes_the_rank(
    returns: pd.DataFrame,
) -> None:
    short = returns.iloc[-10:]

    notes = optimize(short, "min_variance").attrs["result"].notes

    assert any("covariance: rank 9 < 20 assets (10 dates)" in note for note in notes), notes
    assert not any("rank" in n for n in optimize(returns, "min_variance").attrs["result"].notes)


@pytest.mark.parametrize("method", ["min_variance", "min_cvar"])
def test_min_risk_when_an_asset_never_moves_notes_its_weight(
    window: pd.DataFrame, method: str
) -> None:
    flat = window.assign(**{str(window.columns[4]): 0.0})

    weights = optimize(flat, method)  # type: ignore[arg-type]

    notes = weights.attrs["result"].notes
    assert weights.iloc[4] > 0.5
    assert any(f"zero-variance asset(s) {window.columns[4]} " in note for note in notes), notes


@pytest.mark.parametrize(
    ("method", "name"), [("risk_parity", "risk parity"), ("hrp", "HRP"), ("herc", "HERC")]
)
def test_trees_and_risk_parity_when_an_asset_never_moves_refuse_naming_the_symbol(
    window: pd.DataFrame, method: str, name: str
) -> None:
    symbol = str(window.columns[4])
    flat = window.assign(**{symbol: 0.0})

    with pytest.raises(DataError, match=rf"zero variance for \['{symbol}'\].*; {name} divides"):
        optimize(flat, method)  # type: ignore[arg-type]


@pytest.mark.parametrize(("method", "name"), [("hrp", "HRP"), ("herc", "HERC")])
def test_trees_when_one_asset_refuse_naming_the_method(
    window: pd.DataFrame, method: str, name: str
) -> None:
    with pytest.raises(DataError, match=rf"returns: {name} needs at least 2 assets, got 1"):
        optimize(window.iloc[:, :1], method)  # type: ignore[arg-type]


# R13, R14: NaN in the returns


@pytest.mark.parametrize("method", ["equal_weight", "inverse_volatility", *CONVEX_AND_TREES])
def test_returns_when_an_ipo_leaves_nan_refuse_naming_symbol_and_first_date(
    window: pd.DataFrame, method: str
) -> None:
    symbol = str(window.columns[0])
    ipo = window.copy()
    ipo.iloc[:100, 0] = np.nan

    with pytest.raises(
        DataError,
        match=rf"found 100 NaN/inf in \['{symbol}'\] \(first: '{symbol}' on "
        rf"{window.index[0].date().isoformat()}\)",
    ):
        optimize(ipo, method)  # type: ignore[arg-type]


def test_inverse_volatility_when_an_asset_never_moves_says_zero_not_undefined(
    window: pd.DataFrame,
) -> None:
    symbol = str(window.columns[2])

    with pytest.raises(DataError, match=rf"for \['{symbol}'\]; variance is zero: returns that"):
        optimize(window.assign(**{symbol: 0.0}), "inverse_volatility")
