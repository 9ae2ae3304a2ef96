"""`stocker.optimize`, `stocker.backtest`, `stocker.trend_backtest` and `stocker.performance` are
the core's functions, loaded on first use so `import stocker` stays light."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import stocker


def test_import_stocker_when_fresh_loads_no_numpy_pandas_or_cvxpy() -> None:
    code = (
        "import sys, stocker; "
        "print(','.join(m for m in ('numpy', 'pandas', 'cvxpy', 'scipy') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_lazy_exports_when_used_are_the_core_functions() -> None:
    from stocker.core.backtest import backtest, trend_backtest
    from stocker.core.metrics import performance
    from stocker.core.optimize import optimize

    assert stocker.optimize is optimize
    assert stocker.backtest is backtest
    assert stocker.trend_backtest is trend_backtest
    assert stocker.performance is performance
    assert {"optimize", "backtest", "trend_backtest", "performance"} <= set(dir(stocker))


def test_optimize_when_called_from_the_top_level_returns_weights_by_symbol() -> None:
    rng = np.random.default_rng(7)
    returns = pd.DataFrame(
        rng.normal(0.0005, 0.01, size=(300, 4)), columns=["AAA", "BBB", "CCC", "DDD"]
    )
    weights = stocker.optimize(returns, method="min_variance")
    assert list(weights.index) == ["AAA", "BBB", "CCC", "DDD"]
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert (weights >= -1e-9).all()


def test_unknown_attribute_when_asked_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = stocker.nope
