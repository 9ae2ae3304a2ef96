"""The lab's small synthetic market (four stocks, an index, a group and a portfolio), loaded by
path: tests are not a package."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


backtest_market = _load("backtest_market", Path(__file__).parents[1] / "lab" / "backtest_market.py")
