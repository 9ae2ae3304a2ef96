"""`stocker portfolio create | optimize` with inputs as a user types or pastes them: a date in a
day/month order, a sector cap or view given twice, a name with an invisible character. Each is
refused in one `error:` line naming the option and the reason, and nothing is stored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.data.universes import create_universe
from stocker.store.uow import SqlUnitOfWork

from .backtest_market import store_market

pytestmark = pytest.mark.integration

SECTORS = {"XOM": "Energy", "CVX": "Energy", "KO": "Consumer Staples", "MRK": "Health Care"}
GROUP = "four"
DATES = pd.bdate_range("2024-01-02", periods=60)
DAY = DATES[-1].date()


@pytest.fixture
def four(uow: SqlUnitOfWork) -> SqlUnitOfWork:
    rng = np.random.default_rng(7)
    closes = {
        symbol: 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, len(DATES)))) for symbol in SECTORS
    }
    store_market(uow, SECTORS, DATES, closes)
    create_universe(uow, GROUP, symbols=list(SECTORS), ranked=True)
    return uow


def _invoke(app: App, *arguments: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, list(arguments), obj=app, env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def _create(app: App, code: str, *options: str) -> tuple[int, list[str]]:
    return _invoke(
        app, "portfolio", "create", code, "--group", GROUP, "--method", "min_variance", *options
    )


def _absent(app: App, code: str) -> bool:
    exit_code, lines = _invoke(app, "portfolio", "show", code)
    return exit_code == 2 and f"portfolio: '{code}' does not exist" in lines[0]


def test_optimize_when_the_date_is_day_month_ordered_says_which_format_in_one_line(
    app: App, four: SqlUnitOfWork
) -> None:
    assert _create(app, "p")[0] == 0

    exit_code, lines = _invoke(app, "portfolio", "optimize", "p", "--date", "03/04/2024")

    assert exit_code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: --date: got '03/04/2024', expected a date as YYYY-MM-DD")
    assert "ambiguous" in lines[0]
    exit_code, lines = _invoke(app, "portfolio", "show", "p", "--json")
    assert exit_code == 0 and '"latest_date": null' in "\n".join(lines)


def test_optimize_when_the_date_is_iso_with_spaces_or_unpadded_stores_that_date(
    app: App, four: SqlUnitOfWork
) -> None:
    assert _create(app, "p")[0] == 0
    unpadded = f"{DAY.year}-{DAY.month}-{DAY.day}"

    exit_code, lines = _invoke(app, "portfolio", "optimize", "p", "--date", f" {unpadded} ")

    assert exit_code == 0, lines
    exit_code, lines = _invoke(app, "portfolio", "show", "p", "--json")
    assert f'"latest_date": "{DAY}"' in "\n".join(lines)


@pytest.mark.parametrize(
    ("option", "first", "second"),
    [
        ("--sector-cap", "Energy=0.3", "Energy=0.1"),
        ("--sector-cap", "Energy=0.3", " Energy =0.3"),
        ("--view", "XOM=0.1", "XOM=0.2"),
        ("--factor-bound", "value=-1:1", "value=0:0.5"),
    ],
)
def test_create_when_a_name_is_given_twice_is_refused_naming_both_values(
    app: App, four: SqlUnitOfWork, option: str, first: str, second: str
) -> None:
    exit_code, lines = _create(app, "twice", option, first, option, second)

    assert exit_code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: {option}: ") and "is given twice" in lines[0]
    assert repr(first) in lines[0] and repr(second) in lines[0]
    assert _absent(app, "twice")


@pytest.mark.parametrize("hidden", ["\u200b", "\u00ad", "\ufeff"])
def test_create_when_a_sector_name_holds_an_invisible_character_names_it(
    app: App, four: SqlUnitOfWork, hidden: str
) -> None:
    exit_code, lines = _create(app, "pasted", "--sector-cap", f"Energy{hidden}=0.3")

    assert exit_code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: --sector-cap: got ")
    assert f"invisible character (U+{ord(hidden):04X})" in lines[0]
    assert _absent(app, "pasted")


def test_create_when_a_sector_cap_is_typed_once_cleanly_stores_it(
    app: App, four: SqlUnitOfWork
) -> None:
    exit_code, lines = _create(app, "clean", "--sector-cap", " Energy = 0.6", "--json")

    assert exit_code == 0, lines
    assert '"Energy": 0.6' in "\n".join(lines)


def test_optimize_when_the_date_does_not_exist_says_so(app: App, four: SqlUnitOfWork) -> None:
    assert _create(app, "p")[0] == 0

    exit_code, lines = _invoke(app, "portfolio", "optimize", "p", "--date", "2024-02-30")

    assert exit_code == 2 and lines == [
        "error: --date: got '2024-02-30', which is not a calendar date"
    ]
