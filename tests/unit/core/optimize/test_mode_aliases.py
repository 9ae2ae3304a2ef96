"""The lab's and the CLI's short names of the expected-return modes work in `optimize` too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.optimize import optimize


def _returns() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        rng.normal(5e-4, 0.01, (260, 6)),
        columns=list("ABCDEF"),
        index=pd.bdate_range("2021-01-01", periods=260),
    )


@pytest.mark.parametrize(
    ("short", "full"), [("historical", "historical_mean"), ("ewma", "ewma_mean")]
)
def test_a_short_mode_name_is_the_full_one(short: str, full: str) -> None:
    returns = _returns()
    # One solver for both (a cached re-solve would otherwise be the active set's exact answer
    # beside Clarabel's, which differ in a flat direction by ~1e-5): the same inputs, the same
    # weights.
    clarabel = ("CLARABEL",)
    np.testing.assert_allclose(
        optimize(returns, "max_sharpe", expected_returns=short, solvers=clarabel),  # type: ignore[arg-type]
        optimize(returns, "max_sharpe", expected_returns=full, solvers=clarabel),  # type: ignore[arg-type]
        atol=1e-9,
    )


def test_an_unknown_mode_is_refused_naming_the_modes() -> None:
    with pytest.raises(DataError, match="expected_returns: got 'historic'"):
        optimize(_returns(), "max_sharpe", expected_returns="historic")  # type: ignore[arg-type]
