"""A portfolio trades instruments of its own currency only (one cash account per portfolio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stocker.bootstrap import App
from stocker.core.errors import DataError
from stocker.trading.strategy_files import load_strategy_file


def _instruments(app: App) -> None:
    with app.uow() as uow:
        uow.instruments.upsert(
            [
                {"symbol": "AAA", "currency": "USD", "source": "test"},
                {"symbol": "BBB", "currency": "USD", "source": "test"},
                {"symbol": "SAP", "currency": "EUR", "source": "test"},
            ]
        )
        uow.commit()


def _strategy(tmp_path: Path, symbols: list[str], currency: str = "USD") -> Path:
    path = tmp_path / "trend.toml"
    listed = ", ".join(f'"{symbol}"' for symbol in symbols)
    path.write_text(f'[portfolio]\nid = "p1"\ncurrency = "{currency}"\nsymbols = [{listed}]\n')
    return path


def test_an_instrument_in_another_currency_is_refused_naming_it(app: App, tmp_path: Path) -> None:
    _instruments(app)

    with pytest.raises(DataError, match=r"p1 is in USD; .*another currency: SAP \(EUR\)"):
        load_strategy_file(app.uow(), _strategy(tmp_path, ["AAA", "SAP"]))


def test_a_universe_in_the_portfolios_currency_is_accepted(app: App, tmp_path: Path) -> None:
    _instruments(app)

    setup = load_strategy_file(app.uow(), _strategy(tmp_path, ["AAA", "BBB"]))
    euro = load_strategy_file(app.uow(), _strategy(tmp_path, ["SAP"], currency="EUR"))

    assert (setup.symbols, setup.currency) == (("AAA", "BBB"), "USD")
    assert (euro.symbols, euro.currency) == (("SAP",), "EUR")
