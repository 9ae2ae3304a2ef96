"""Factor exposures of one date: winsorization bounds, z-scores per date and per sector,
descriptors against hand computations, nulls only for missing inputs, and no look-ahead."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocker.core.errors import DataError
from stocker.core.factors import (
    COLUMNS,
    FACTORS,
    FactorConfig,
    factor_exposures,
    momentum,
    no_fundamentals,
    sector_labels,
    snapshot_as_of,
    winsorize,
    zscore,
)

DAY = date(2024, 6, 28)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.one_of(finite, st.just(float("nan"))), min_size=1, max_size=60),
    lower=st.floats(min_value=0.0, max_value=0.49),
    width=st.floats(min_value=0.01, max_value=0.51),
)
def test_winsorize_keeps_every_value_within_the_quantiles_and_nulls_null(
    values: list[float], lower: float, width: float
) -> None:
    upper = min(lower + width, 1.0)
    series = pd.Series(values)
    clipped = winsorize(series, lower, upper)

    present = series.dropna().to_numpy()
    assert clipped.isna().tolist() == series.isna().tolist()
    if len(present):
        low, high = np.quantile(present, [lower, upper])
        kept = clipped.dropna()
        assert (kept >= low).all() and (kept <= high).all()
        inside = (present >= low) & (present <= high)
        assert np.array_equal(kept.to_numpy()[inside], present[inside])


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=2, max_size=60))
def test_zscore_has_mean_0_and_sd_1_unless_every_value_is_equal(values: list[float]) -> None:
    scored = zscore(pd.Series(values)).to_numpy()

    array = np.asarray(values)
    if (array == array[0]).all():
        assert (scored == 0.0).all()
    elif array.std() > 1e-9 * (1 + abs(array.mean())):
        assert scored.mean() == pytest.approx(0.0, abs=1e-9)
        assert scored.std(ddof=0) == pytest.approx(1.0, abs=1e-9)


def test_zscore_within_groups_has_mean_0_and_sd_1_in_each_group() -> None:
    rng = np.random.default_rng(3)
    values = pd.Series(rng.normal(size=40), index=[f"S{n}" for n in range(40)])
    groups = pd.Series(["Tech"] * 15 + ["Energy"] * 20 + ["Utilities"] * 4 + [None])
    groups.index = values.index

    scored = zscore(values, groups)

    for label in ("Tech", "Energy", "Utilities"):
        part = scored[groups == label].to_numpy()
        assert part.mean() == pytest.approx(0.0, abs=1e-12)
        assert part.std(ddof=0) == pytest.approx(1.0, abs=1e-12)
    assert scored.iloc[-1] == 0.0  # a group of one: nothing to compare with


def _prices(symbols: list[str], sessions: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range(end=pd.Timestamp(DAY), periods=sessions)
    steps = rng.normal(0.0004, 0.01 * (1 + np.arange(len(symbols))), (sessions, len(symbols)))
    return pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=symbols)


def _fundamentals(symbols: list[str], seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(symbols)
    return pd.DataFrame(
        {
            "as_of_date": [date(2024, 5, 1)] * n,
            "pe": rng.uniform(5, 40, n),
            "pb": rng.uniform(0.5, 8, n),
            "ps": rng.uniform(0.3, 10, n),
            "roe": rng.normal(0.12, 0.05, n),
            "roce": rng.normal(0.15, 0.05, n),
            "operating_margin": rng.uniform(0.05, 0.4, n),
            "net_margin": rng.uniform(0.01, 0.3, n),
            "debt_to_equity": rng.uniform(0, 2, n),
            "market_cap": rng.uniform(1e9, 1e12, n),
            "sector": ["Tech", "Energy"] * (n // 2) + ["Tech"] * (n % 2),
        },
        index=pd.Index(symbols, name="symbol"),
    )


def test_factor_exposures_are_standardized_per_column_without_nulls() -> None:
    symbols = [f"S{n:02d}" for n in range(25)]

    result = factor_exposures(_fundamentals(symbols), _prices(symbols), day=DAY)

    assert list(result.exposures.columns) == list(COLUMNS)
    for column in COLUMNS:
        values = result.exposures[column].to_numpy()
        assert values.mean() == pytest.approx(0.0, abs=1e-9)
        assert values.std(ddof=0) == pytest.approx(1.0, abs=1e-9)
    assert result.reasons.isna().all().all()


def test_factor_exposures_sector_neutral_are_standardized_within_each_sector() -> None:
    symbols = [f"S{n:02d}" for n in range(30)]
    fundamentals = _fundamentals(symbols)
    sectors = fundamentals["sector"]

    result = factor_exposures(
        fundamentals, _prices(symbols), day=DAY, config=FactorConfig(sector_neutral=True),
        sectors=sectors,
    )  # fmt: skip

    for _, members in result.exposures.groupby(sectors):
        for column in COLUMNS:
            assert members[column].mean() == pytest.approx(0.0, abs=1e-9)
            assert members[column].std(ddof=0) == pytest.approx(1.0, abs=1e-9)


def test_factor_exposures_order_symbols_like_the_raw_descriptors() -> None:
    """Without winsorization a single-descriptor factor is the plain z-score of its input."""
    symbols = [f"S{n:02d}" for n in range(10)]
    prices, fundamentals = _prices(symbols), _fundamentals(symbols)
    config = FactorConfig(lower_quantile=0.0, upper_quantile=1.0)

    result = factor_exposures(fundamentals, prices, day=DAY, config=config).exposures

    size = -np.log(fundamentals["market_cap"])
    np.testing.assert_allclose(result["size"], (size - size.mean()) / size.std(ddof=0))
    twelve_one = prices.iloc[-22] / prices.iloc[-253] - 1
    np.testing.assert_allclose(
        result["momentum"], (twelve_one - twelve_one.mean()) / twelve_one.std(ddof=0)
    )
    volatility = (prices / prices.shift(1) - 1).iloc[-252:].std(ddof=1) * np.sqrt(252)
    expected = (-volatility + volatility.mean()) / volatility.std(ddof=0)
    np.testing.assert_allclose(result["low_vol"], expected)


def test_momentum_skips_the_last_month() -> None:
    prices = pd.DataFrame({"A": np.arange(1.0, 301.0)})

    assert momentum(prices)["A"] == pytest.approx(
        prices["A"].iloc[-22] / prices["A"].iloc[-253] - 1
    )
    assert np.isnan(momentum(prices.iloc[:252])["A"])


def test_factor_exposures_without_fundamentals_are_null_with_the_reason() -> None:
    symbols = [f"S{n:02d}" for n in range(12)]
    fundamentals = _fundamentals(symbols).drop(index=["S03", "S07"])
    fundamentals.loc["S05", ["pe", "pb", "ps"]] = np.nan

    result = factor_exposures(fundamentals, _prices(symbols), day=DAY)

    exposures, reasons = result.exposures, result.reasons
    for symbol in ("S03", "S07"):
        assert exposures.loc[symbol, ["value", "quality", "size"]].isna().all()
        assert set(reasons.loc[symbol, ["value", "quality", "size"]]) == {no_fundamentals(DAY)}
        assert exposures.loc[symbol, ["momentum", "low_vol", "composite_score"]].notna().all()
    assert np.isnan(exposures.loc["S05", "value"])
    assert (
        reasons.loc["S05", "value"]
        == "pe, pb, ps missing (or not meaningful) in the snapshot of 2024-05-01"
    )
    assert exposures.drop(index=["S03", "S05", "S07"]).notna().all().all()
    assert exposures.notna().eq(reasons.isna()).all().all()


def test_factor_exposures_with_too_little_history_name_it() -> None:
    symbols = ["A", "B", "C"]
    result = factor_exposures(_fundamentals(symbols), _prices(symbols, sessions=100), day=DAY)

    assert result.exposures["momentum"].isna().all()
    assert "252 and 21 sessions before 2024-06-28" in result.reasons.loc["A", "momentum"]
    assert result.exposures["low_vol"].isna().all()
    assert result.exposures["composite_score"].notna().all()


def test_composite_score_follows_the_weights() -> None:
    symbols = [f"S{n:02d}" for n in range(15)]
    prices, fundamentals = _prices(symbols), _fundamentals(symbols)

    only_size = FactorConfig(weights={"size": 1.0})
    result = factor_exposures(fundamentals, prices, day=DAY, config=only_size).exposures

    np.testing.assert_allclose(result["composite_score"], result["size"], atol=1e-12)
    with pytest.raises(DataError, match="unknown factor"):
        FactorConfig(weights={"beauty": 1.0})
    with pytest.raises(DataError, match="positive weight"):
        FactorConfig(weights=dict.fromkeys(FACTORS, 0.0))


def test_factor_exposures_refuse_data_dated_after_the_day() -> None:
    symbols = ["A", "B"]
    with pytest.raises(DataError, match="after 2024-06-27"):
        factor_exposures(_fundamentals(symbols), _prices(symbols), day=date(2024, 6, 27))
    future = _fundamentals(symbols).assign(as_of_date=date(2024, 7, 1))
    with pytest.raises(DataError, match="snapshot is dated 2024-07-01"):
        factor_exposures(future, _prices(symbols), day=DAY)


def test_snapshot_as_of_takes_each_symbols_latest_known_snapshot() -> None:
    history = pd.DataFrame(
        {
            "symbol": ["A", "A", "A", "B"],
            "as_of_date": [date(2024, 1, 5), date(2024, 4, 5), date(2024, 4, 20), date(2024, 5, 1)],
            "pe": [10.0, 11.0, 12.0, 20.0],
            "sector": ["Tech", "Tech", "Energy", None],
        }
    )

    on_april_10 = snapshot_as_of(history, date(2024, 4, 10))
    on_april_20 = snapshot_as_of(history, date(2024, 4, 20))

    assert on_april_10["pe"].to_dict() == {"A": 11.0}
    assert on_april_20["pe"].to_dict() == {"A": 12.0}
    labels = sector_labels(on_april_20, {"A": "Utilities", "B": "Health Care"}, ["A", "B"])
    assert labels.to_dict() == {"A": "Energy", "B": "Health Care"}
