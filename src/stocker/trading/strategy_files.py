"""A portfolio's strategy file: the strategy's parameters, the portfolio id and its universe.

```toml
[portfolio]
id = "trend-us"              # portfolio_id of every target, order, ledger row
strategy = "trend"           # strategy id; its universe comes from `strategy_universe`
version = "trend-v1"         # signals.strategy_version (default: the strategy id)
universe = "sp20"            # optional: a universe name instead of the strategy's assignment
symbols = ["AAPL", "MSFT"]   # optional: an explicit list (tests, small runs)
currency = "USD"             # instruments in another currency are refused
capital = 1000000            # contributed on the first session the pipeline runs

[strategy]                   # StrategyConfig (docs/strategy.md); missing keys keep defaults
lookback_days = 126
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stocker.core.errors import ConfigError, DataError
from stocker.core.strategy.config import StrategyConfig

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork


@dataclass(frozen=True)
class PortfolioSetup:
    """One portfolio the pipeline runs: who it is, what it trades, with which parameters."""

    portfolio_id: str
    strategy_version: str
    symbols: tuple[str, ...]
    config: StrategyConfig = field(default_factory=StrategyConfig)
    currency: str = "USD"
    capital: Decimal = Decimal("1000000")


def parse_strategy_file(text: str) -> tuple[dict[str, Any], StrategyConfig]:
    """The ``[portfolio]`` table and the strategy's parameters of a strategy file's text."""
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"strategy file is not valid TOML: {error}") from error
    portfolio = values.pop("portfolio", None)
    if not isinstance(portfolio, dict) or not portfolio.get("id"):
        raise ConfigError("strategy file needs a [portfolio] table with an id")
    unknown = set(portfolio) - {
        "id",
        "strategy",
        "version",
        "universe",
        "symbols",
        "currency",
        "capital",
    }
    if unknown:
        raise ConfigError(f"[portfolio] has unknown keys: {', '.join(sorted(unknown))}")
    config = StrategyConfig.from_mapping(values) if values else StrategyConfig()
    return portfolio, config


def load_strategy_file(uow: SqlUnitOfWork, path: Path) -> PortfolioSetup:
    """Read a strategy file and resolve its universe (explicit symbols, a universe name, or the
    strategy's `strategy_universe` assignment); refuses instruments in another currency."""
    from stocker.data.universes import member_symbols, universe_for_strategy

    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read strategy file {path}: {error}") from error
    portfolio, config = parse_strategy_file(text)
    portfolio_id = str(portfolio["id"])
    strategy = str(portfolio.get("strategy", portfolio_id))
    if portfolio.get("symbols"):
        symbols = [str(symbol) for symbol in portfolio["symbols"]]
    elif portfolio.get("universe"):
        symbols = member_symbols(uow, str(portfolio["universe"]))
    else:
        symbols = member_symbols(uow, universe_for_strategy(uow, strategy).name)
    setup = PortfolioSetup(
        portfolio_id=portfolio_id,
        strategy_version=str(portfolio.get("version", strategy)),
        symbols=tuple(symbols),
        config=config,
        currency=str(portfolio.get("currency", "USD")),
        capital=Decimal(str(portfolio.get("capital", "1000000"))),
    )
    check_currencies(uow, setup)
    return setup


def check_currencies(uow: SqlUnitOfWork, setup: PortfolioSetup) -> None:
    """Refuse a universe with an instrument the master does not know or that trades in
    another currency than the portfolio's (the ledger keeps one cash account per portfolio)."""
    if not setup.symbols:
        raise DataError(f"portfolio {setup.portfolio_id}: its universe has no symbols")
    with uow:
        terms = uow.trading.instrument_terms(setup.symbols)
    unknown = [symbol for symbol in setup.symbols if symbol not in terms]
    if unknown:
        raise DataError(f"portfolio {setup.portfolio_id}: unknown instruments {', '.join(unknown)}")
    foreign = {
        symbol: currency
        for symbol, (_, currency) in terms.items()
        if (currency or "USD") != setup.currency
    }
    if foreign:
        listed = ", ".join(f"{symbol} ({currency})" for symbol, currency in sorted(foreign.items()))
        raise DataError(
            f"portfolio {setup.portfolio_id} is in {setup.currency}; its universe has "
            f"instruments in another currency: {listed}"
        )
