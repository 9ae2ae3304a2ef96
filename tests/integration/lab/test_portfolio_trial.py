"""`stocker portfolio create` with constraints the group cannot meet is refused then, in one line
naming the field and the numbers, with nothing stored, rather than at the first rebalance."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.errors import DataError
from stocker.data.universes import create_universe
from stocker.lab.construction import StoredConstraints, create_portfolio
from stocker.store.uow import SqlUnitOfWork

from .backtest_market import store_market

pytestmark = pytest.mark.integration

SECTORS = {
    "HD": "Consumer Discretionary",
    "KO": "Consumer Staples",
    "WMT": "Consumer Staples",
    "XOM": "Energy",
    "CVX": "Energy",
    "JPM": "Financials",
    "MRK": "Health Care",
    "GE": "Industrials",
    "AAPL": "Information Technology",
    "MSFT": "Information Technology",
}
GROUP = "ten"


@pytest.fixture
def ten(uow: SqlUnitOfWork) -> SqlUnitOfWork:
    store_market(uow, SECTORS)
    create_universe(uow, GROUP, symbols=list(SECTORS), ranked=True)
    return uow


def _invoke(app: App, *arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments), obj=app, env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _codes(uow: SqlUnitOfWork) -> list[str]:
    with uow:
        return list(uow.portfolios.codes())


def test_cli_create_when_max_weight_times_members_is_below_1_is_refused_in_one_line(
    app: App, ten: SqlUnitOfWork
) -> None:
    for _ in range(2):  # a second run changes nothing either
        code, output = _invoke(
            app, "portfolio", "create", "p", "--group", GROUP, "--method", "min_variance",
            "--max-weight", "0.05",
        )  # fmt: skip
        lines = [line for line in output.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1, output
        assert lines[0].startswith("error: constraints: ")
        assert "max_weight (sum of maximums 0.5)" in lines[0] and "10 members" in lines[0]
        assert _codes(ten) == []


def test_create_when_min_weight_times_members_exceeds_1_is_refused(ten: SqlUnitOfWork) -> None:
    with pytest.raises(DataError, match=r"min_weight \(sum of minimums 2\)"):
        create_portfolio(
            ten, "p", group=GROUP, method="hrp", constraints=StoredConstraints(min_weight=0.2)
        )
    assert _codes(ten) == []


def test_create_when_every_sector_is_capped_below_its_share_is_refused_with_plain_numbers(
    ten: SqlUnitOfWork,
) -> None:
    caps = dict.fromkeys(set(SECTORS.values()), 0.1)

    with pytest.raises(DataError, match="sector_caps") as raised:
        create_portfolio(
            ten, "p", group=GROUP, method="min_variance",
            constraints=StoredConstraints(sector_caps=caps),
        )  # fmt: skip

    assert "'Energy': 0.1" in str(raised.value) and "np.float64" not in str(raised.value)
    assert _codes(ten) == []


def test_create_when_a_sector_cap_names_no_member_sector_says_which_there_are(
    ten: SqlUnitOfWork,
) -> None:
    with pytest.raises(DataError, match="sector_caps: 'Tech' is the sector of no member") as raised:
        create_portfolio(
            ten, "p", group=GROUP, method="min_variance",
            constraints=StoredConstraints(sector_caps={"Tech": 0.3}),
        )  # fmt: skip
    assert "Information Technology" in str(raised.value)
    assert _codes(ten) == []


def test_create_when_the_bounds_are_just_feasible_stores_the_portfolio(ten: SqlUnitOfWork) -> None:
    create_portfolio(
        ten, "p", group=GROUP, method="min_variance",
        constraints=StoredConstraints(max_weight=0.1, sector_caps={"Energy": 0.2}),
    )  # fmt: skip
    create_portfolio(
        ten, "q", group=GROUP, method="hrp", constraints=StoredConstraints(min_weight=0.1)
    )
    assert _codes(ten) == ["p", "q"]


def test_cli_create_when_a_view_names_a_symbol_outside_the_group_is_refused(
    app: App, ten: SqlUnitOfWork
) -> None:
    code, output = _invoke(
        app, "portfolio", "create", "bl", "--group", GROUP, "--method", "max_sharpe",
        "--expected-returns", "black_litterman", "--view", "ZZZZ=0.1", "--view", "AAPL=0.1",
    )  # fmt: skip

    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, output
    assert lines[0].startswith("error: views: ZZZZ is not a member of group 'ten'")
    assert _codes(ten) == []
