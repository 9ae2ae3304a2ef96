"""The walk-forward's closed-form weights are the optimizer's (to the last bits of a sum)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.optimize import optimize
from stocker.lab.backtest_inputs import CLOSED_FORM, _closed_form


@pytest.mark.parametrize("method", CLOSED_FORM)
def test_closed_form_when_compared_with_the_optimizer_gives_the_same_weights(method: str) -> None:
    rng = np.random.default_rng(11)
    window = rng.normal(0.0, 0.02, (252, 40)) * rng.uniform(0.5, 2.0, 40)
    window[rng.uniform(size=window.shape) < 0.01] = np.nan  # missing days count as 0
    names = pd.Index([f"S{i:02d}" for i in range(40)], dtype=object)

    mine = _closed_form(method, window, names)

    returns = pd.DataFrame(np.where(np.isnan(window), 0.0, window), columns=names)
    theirs = optimize(returns, method=method).reindex(names).to_numpy()  # type: ignore[arg-type]
    # the same operations; only numpy's summation order over the array's layout may differ
    np.testing.assert_allclose(mine, theirs, rtol=1e-14, atol=0)
    assert mine.sum() == pytest.approx(1.0, abs=1e-15)


def test_inverse_volatility_when_a_name_never_moves_refuses_naming_it() -> None:
    window = np.random.default_rng(2).normal(0.0, 0.01, (60, 3))
    window[:, 1] = 0.0

    with pytest.raises(DataError, match="zero or undefined variance for \\['B'\\]"):
        _closed_form("inverse_volatility", window, pd.Index(["A", "B", "C"], dtype=object))
