"""A portfolio's stored rebalances stay a consistent chain: optimizing a date before stored ones
is refused when they depend on it (turnover limit or costs) unless they are deleted; a name held
but no longer in the group is sold and its sale counts as turnover; views a mode never reads are
refused; both spellings of the historical and EWMA modes name one stored mode."""

from __future__ import annotations

import itertools
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.errors import DataError
from stocker.data.universes import create_universe, remove_members
from stocker.lab.constraint_costs import constraint_costs
from stocker.lab.construction import (
    StoredConstraints,
    create_portfolio,
    optimize_portfolio,
    show_portfolio,
)
from stocker.store.uow import SqlUnitOfWork

from .backtest_market import store_market

pytestmark = pytest.mark.integration

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
DAILY_VOL = (0.006, 0.007, 0.008, 0.02, 0.022, 0.018)
DATES = pd.bdate_range("2023-01-02", periods=420)
DAY = DATES[299].date()
LATER = DATES[359].date()
LAST = DATES[419].date()
GROUP = "six"
TOL = 1e-6
EQUAL = pd.Series(1 / len(SYMBOLS), index=list(SYMBOLS))


@pytest.fixture
def market(uow: SqlUnitOfWork) -> SqlUnitOfWork:
    rng = np.random.default_rng(7)
    closes = {
        symbol: 100 * np.exp(np.cumsum(rng.normal(0.0004, vol, len(DATES))))
        for symbol, vol in zip(SYMBOLS, DAILY_VOL, strict=True)
    }
    store_market(uow, dict.fromkeys(SYMBOLS, "Technology"), DATES, closes)
    create_universe(uow, GROUP, symbols=list(SYMBOLS), ranked=True)
    return uow


def _stored(uow: SqlUnitOfWork, code: str) -> dict[date, pd.Series]:
    """Every stored rebalance of `code`: date → weights."""
    with uow:
        portfolio = uow.portfolios.named(code)
        assert portfolio is not None
        return {
            day: uow.portfolios.weights_on(portfolio.id, day)
            for day in uow.portfolios.rebalance_dates(portfolio.id)
        }


def _store(uow: SqlUnitOfWork, code: str, day: date, weights: pd.Series) -> None:
    with uow:
        portfolio = uow.portfolios.named(code)
        assert portfolio is not None
        uow.portfolios.replace_weights(portfolio.id, day, weights)
        uow.commit()


def _one_way(after: pd.Series, before: pd.Series) -> float:
    """½·Σ|Δw| over every name in either (a name missing from one side is 0 there)."""
    names = after.index.union(before.index)
    return 0.5 * float(
        (after.reindex(names, fill_value=0.0) - before.reindex(names, fill_value=0.0)).abs().sum()
    )


def _chain_turnovers(uow: SqlUnitOfWork, code: str) -> list[float]:
    stored = _stored(uow, code)
    days = sorted(stored)
    return [_one_way(stored[b], stored[a]) for a, b in itertools.pairwise(days)]


def _invoke(app: App, *arguments: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, list(arguments), obj=app, env={"COLUMNS": "400"})
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


# --- an earlier date than stored rebalances -------------------------------------------------------


@pytest.mark.parametrize(
    "constraints",
    [
        StoredConstraints(max_weight=0.5, turnover_limit=0.2),
        StoredConstraints(max_weight=0.5, per_asset_turnover_limit=0.1),
        StoredConstraints(max_weight=0.5, transaction_cost_bps=10.0),
    ],
    ids=["turnover", "per-asset", "costs"],
)
def test_an_earlier_date_when_later_rebalances_depend_on_it_is_refused_naming_them(
    market: SqlUnitOfWork, constraints: StoredConstraints
) -> None:
    create_portfolio(market, "p", group=GROUP, method="min_variance", constraints=constraints)
    optimize_portfolio(market, "p", day=LATER)
    optimize_portfolio(market, "p", day=LAST)
    before = _stored(market, "p")

    for day in (DAY, LATER):  # a new earlier date, or again a date that has later ones
        with pytest.raises(DataError) as refused:
            optimize_portfolio(market, "p", day=day)
        message = str(refused.value)
        later = [d for d in (LATER, LAST) if d > day]
        assert f"rebalance(s) after {day} are stored ({', '.join(map(str, later))})" in message
        assert "--replace-later" in message and f"Optimize a date after {LAST}" in message

    after = _stored(market, "p")
    assert sorted(after) == sorted(before) == [LATER, LAST]
    for day, weights in before.items():
        pd.testing.assert_series_equal(after[day], weights)


def test_replace_later_deletes_them_says_so_and_the_chain_is_rebuilt_within_the_limit(
    market: SqlUnitOfWork,
) -> None:
    constraints = StoredConstraints(max_weight=0.5, turnover_limit=0.2)
    create_portfolio(market, "p", group=GROUP, method="min_variance", constraints=constraints)
    optimize_portfolio(market, "p", day=LATER)
    _store(market, "p", LAST, EQUAL)  # a later rebalance far from the others

    report = optimize_portfolio(market, "p", day=DAY, replace_later=True)

    assert report.deleted_later == (LATER, LAST)
    assert report.as_json()["deleted_later"] == [str(LATER), str(LAST)]
    assert any(f"deleted the later rebalance(s) {LATER}, {LAST}" in n for n in report.notes)
    assert sorted(_stored(market, "p")) == [DAY]

    for day in (LATER, LAST):  # again, in order
        again = optimize_portfolio(market, "p", day=day)
        assert again.deleted_later == ()
    turnovers = _chain_turnovers(market, "p")
    assert len(turnovers) == 2 and max(turnovers) <= 0.2 + TOL


def test_an_earlier_date_without_turnover_limit_or_costs_keeps_later_ones_and_says_so(
    market: SqlUnitOfWork,
) -> None:
    create_portfolio(market, "free", group=GROUP, method="min_variance")
    kept = optimize_portfolio(market, "free", day=LATER).weights

    report = optimize_portfolio(market, "free", day=DAY)

    assert any(f"later rebalance(s) {LATER} kept" in note for note in report.notes)
    stored = _stored(market, "free")
    assert sorted(stored) == [DAY, LATER]
    pd.testing.assert_series_equal(
        stored[LATER].sort_index(), kept.sort_index(), check_names=False, atol=1e-12
    )


def test_cli_trial_sequence_is_refused_in_one_line_then_replace_later_rebuilds_it(
    app: App, market: SqlUnitOfWork
) -> None:
    assert _invoke(
        app, "portfolio", "create", "p", "--group", GROUP, "--method", "min_variance",
        "--max-weight", "0.5", "--turnover", "0.2",
    )[0] == 0  # fmt: skip
    assert _invoke(app, "portfolio", "optimize", "p", "--date", str(LATER))[0] == 0

    code, lines = _invoke(app, "portfolio", "optimize", "p", "--date", str(DAY))

    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: portfolio 'p': rebalance(s) after {DAY} are stored")
    assert str(LATER) in lines[0] and "--replace-later" in lines[0]
    assert sorted(_stored(market, "p")) == [LATER]

    code, lines = _invoke(
        app, "portfolio", "optimize", "p", "--date", str(DAY), "--replace-later", "--json"
    )
    assert code == 0, lines
    assert json.loads("\n".join(lines))["deleted_later"] == [str(LATER)]
    assert sorted(_stored(market, "p")) == [DAY]
    assert _invoke(app, "portfolio", "optimize", "p", "--date", str(LATER))[0] == 0
    assert _chain_turnovers(market, "p")[0] <= 0.2 + TOL


# --- a member removed from the group --------------------------------------------------------------


def test_a_removed_member_when_held_is_sold_and_its_sale_counts_as_turnover(
    market: SqlUnitOfWork,
) -> None:
    constraints = StoredConstraints(max_weight=0.5, turnover_limit=0.2)
    create_portfolio(market, "p", group=GROUP, method="min_variance", constraints=constraints)
    create_portfolio(market, "free", group=GROUP, method="min_variance")
    _store(market, "p", DAY, EQUAL)
    remove_members(market, GROUP, ["FFF"])

    report = optimize_portfolio(market, "p", day=LATER)
    free = optimize_portfolio(market, "free", day=LATER).weights

    stored = _stored(market, "p")[LATER]
    assert "FFF" not in stored.index and stored.sum() == pytest.approx(1.0, abs=1e-9)
    moved = _one_way(stored, EQUAL)
    assert moved <= 0.2 + TOL
    assert moved == pytest.approx(0.2, abs=1e-4)  # the limit binds, the sale included
    assert report.turnover == pytest.approx(moved, abs=1e-12)
    assert _one_way(free, EQUAL) > 0.3  # unconstrained, it would move far more
    note = next(note for note in report.notes if "no longer members of the group" in note)
    assert f"FFF at 16.67% held on {DAY}" in note and "8.33% of the 20.00% turnover" in note


@pytest.mark.parametrize(
    ("constraints", "expected"),
    [
        (
            StoredConstraints(turnover_limit=0.1),
            "turnover_limit: the forced sale of FFF at 16.67% (held on {day}, no longer in "
            "group 'six') needs at least 16.67% one-way turnover (selling and reinvesting the "
            "proceeds) against the limit 10.00%",
        ),
        (
            StoredConstraints(per_asset_turnover_limit=0.1),
            "per_asset_turnover_limit: the forced sale of FFF at 16.67% (held on {day}, no "
            "longer in group 'six') needs |Δw| up to 16.67% against the per-asset limit 10.00%",
        ),
    ],
    ids=["turnover", "per-asset"],
)
def test_a_removed_member_when_its_sale_breaks_the_limit_is_refused_with_both_figures(
    market: SqlUnitOfWork, constraints: StoredConstraints, expected: str
) -> None:
    create_portfolio(market, "p", group=GROUP, method="min_variance", constraints=constraints)
    _store(market, "p", DAY, EQUAL)
    remove_members(market, GROUP, ["FFF"])

    with pytest.raises(DataError) as refused:
        optimize_portfolio(market, "p", day=LATER)
    with pytest.raises(DataError) as what_if:
        constraint_costs(market, "p", day=LATER)

    assert str(refused.value).startswith(expected.format(day=DAY)), refused.value
    assert "add them back to the group" in str(refused.value)
    assert str(what_if.value) == str(refused.value)
    assert sorted(_stored(market, "p")) == [DAY]


def test_a_removed_member_with_no_weight_is_no_forced_sale(market: SqlUnitOfWork) -> None:
    constraints = StoredConstraints(turnover_limit=0.05)
    create_portfolio(market, "p", group=GROUP, method="min_variance", constraints=constraints)
    held = pd.Series([0.2, 0.2, 0.2, 0.2, 0.2, 0.0], index=list(SYMBOLS))
    _store(market, "p", DAY, held)
    remove_members(market, GROUP, ["FFF"])

    report = optimize_portfolio(market, "p", day=LATER)

    assert report.turnover is not None and report.turnover <= 0.05 + TOL
    assert not any("no longer members" in note for note in report.notes)


# --- views and mode spellings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode", ["historical", "historical_mean", "ewma", "capm", "factor_implied"]
)
def test_views_with_a_mode_that_never_reads_them_are_refused_naming_the_mode(
    market: SqlUnitOfWork, mode: str
) -> None:
    with pytest.raises(DataError) as refused:
        create_portfolio(
            market, "p", group=GROUP, method="max_sharpe", expected_returns=mode,
            constraints=StoredConstraints(views={"AAA": 0.1}),
        )  # fmt: skip

    canonical = {"historical_mean": "historical"}.get(mode, mode)
    assert str(refused.value).startswith(
        f"views: expected-return mode {canonical!r} does not use views (only black_litterman"
    )
    assert "AAA" in str(refused.value)
    with market:
        assert market.portfolios.codes() == []


def test_cli_view_with_historical_returns_is_refused_in_one_line(
    app: App, market: SqlUnitOfWork
) -> None:
    code, lines = _invoke(
        app, "portfolio", "create", "p", "--group", GROUP, "--method", "max_sharpe",
        "--view", "AAA=0.1",
    )  # fmt: skip

    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: views: expected-return mode 'historical' does not use")


@pytest.mark.parametrize(
    ("given", "stored"), [("historical_mean", "historical"), ("ewma_mean", "ewma")]
)
def test_both_spellings_of_a_mode_store_and_optimize_as_one(
    market: SqlUnitOfWork, given: str, stored: str
) -> None:
    create_portfolio(market, "long", group=GROUP, method="max_sharpe", expected_returns=given)
    create_portfolio(market, "short", group=GROUP, method="max_sharpe", expected_returns=stored)

    long = optimize_portfolio(market, "long", day=DAY)
    short = optimize_portfolio(market, "short", day=DAY)
    overridden = optimize_portfolio(market, "short", day=LATER, expected_returns=f" {given}")

    assert show_portfolio(market, "long").portfolio.expected_return_mode == stored
    assert long.expected_return_mode == short.expected_return_mode == stored
    assert overridden.expected_return_mode == stored
    # The same problem: the second answer is the active set's re-solve, the first Clarabel's.
    pd.testing.assert_series_equal(long.weights, short.weights, atol=1e-6)
    costs = constraint_costs(market, "short", day=DAY, expected_returns=given)
    assert costs.expected_return_mode == stored


def test_cli_accepts_both_spellings_and_names_both_when_refusing(
    app: App, market: SqlUnitOfWork
) -> None:
    code, lines = _invoke(
        app, "portfolio", "create", "p", "--group", GROUP, "--method", "max_sharpe",
        "--expected-returns", "ewma_mean", "--json",
    )  # fmt: skip
    assert code == 0, lines
    assert json.loads("\n".join(lines))["expected_return_mode"] == "ewma"

    code, lines = _invoke(
        app, "portfolio", "optimize", "p", "--date", str(DAY), "--expected-returns", "mean"
    )
    assert code == 2 and len(lines) == 1, lines
    assert lines[0] == (
        "error: expected_returns: got 'mean', expected one of historical (or historical_mean), "
        "ewma (or ewma_mean), capm, black_litterman, factor_implied"
    )
