"""Compiled problems are cached per thread: two threads re-solving the same shape at once get
their own answers (a shared problem would have its parameters overwritten mid-solve)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from stocker.core.optimize import Constraints, optimize
from stocker.core.optimize import api as optimize_api


def _returns(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(4e-4, 0.01, (300, 12)) + rng.normal(0, 0.004, (300, 1))
    return pd.DataFrame(
        values,
        columns=[f"S{i}" for i in range(12)],
        index=pd.bdate_range("2020-01-01", periods=300),
    )


def test_threads_re_solving_one_shape_each_get_their_own_answers() -> None:
    capped = Constraints(max_weight=0.2)
    inputs = [_returns(seed) for seed in range(4)]
    expected = [optimize(frame, "max_sharpe", capped).to_numpy() for frame in inputs]
    got: dict[tuple[int, int], np.ndarray] = {}
    cached: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for round_ in range(6):
                for index, frame in enumerate(inputs):
                    got[(thread, round_ * 10 + index)] = optimize(
                        frame, "max_sharpe", capped
                    ).to_numpy()
            cached[thread] = [id(problem) for problem in optimize_api._PROBLEMS.values()]
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    # One compiled problem in each thread's own cache, none shared with another thread's.
    mine = [id(problem) for problem in optimize_api._PROBLEMS.values()]
    assert all(len(ids) == 1 for ids in cached.values())
    assert len({*mine, *(ids[0] for ids in cached.values())}) == len(mine) + 3
    for (_, key), weights in got.items():
        # The same optimum (Clarabel's first answer and the active set's re-solves agree on the
        # Sharpe ratio; weights only to the interior point's tolerance in flat directions).
        frame = inputs[key % 10]
        mean, covariance = frame.mean().to_numpy(), frame.cov().to_numpy()

        def sharpe(w: np.ndarray) -> float:
            return float(mean @ w / np.sqrt(w @ covariance @ w))  # noqa: B023

        assert abs(sharpe(weights) / sharpe(expected[key % 10]) - 1.0) < 1e-6
        np.testing.assert_allclose(weights, expected[key % 10], atol=5e-4)
