"""Black–Litterman's parts one by one: Ω for each mode (Idzorek's confidences at 0 and 1), the
views from P/Q or absolute views, the equilibrium prior, and every refusal's message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.optimize.expected_returns import BlackLitterman

SYMBOLS = pd.Index(["A", "B", "C"])
COV = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, 0.02], [0.0, 0.02, 0.16]])
PICK = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]])


def test_default_omega_is_tau_times_the_view_variances() -> None:
    omega = BlackLitterman(tau=0.1).uncertainty(PICK, COV)
    view_variance = np.diag(PICK @ COV @ PICK.T)
    assert omega == pytest.approx(np.diag(0.1 * view_variance))
    assert view_variance.tolist() == pytest.approx([0.04, 0.09 + 0.16 - 0.04])


def test_idzorek_omega_from_confidences_including_0_and_1() -> None:
    model = BlackLitterman(tau=0.05, omega="idzorek", view_confidences=[0.25, 1.0])
    omega = model.uncertainty(PICK, COV)
    view_variance = np.diag(PICK @ COV @ PICK.T)
    assert omega == pytest.approx(np.diag([0.05 * 3.0 * view_variance[0], 0.0]))
    none = BlackLitterman(omega="idzorek", view_confidences=[0.0, 0.5]).uncertainty(PICK, COV)
    assert none[0, 0] == 1e6
    assert none[1, 1] == pytest.approx(0.05 * 1.0 * view_variance[1])
    assert none[0, 1] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"omega": "other"}, "omega: got 'other', expected 'default', 'idzorek'"),
        ({"omega": "idzorek"}, "view_confidences: Idzorek's Ω needs one confidence per view"),
        (
            {"omega": "idzorek", "view_confidences": [0.5]},
            "view_confidences: Idzorek's Ω needs one confidence per view",
        ),
        (
            {"omega": "idzorek", "view_confidences": [0.5, 1.01]},
            "view_confidences: expected values in [0, 1]",
        ),
        (
            {"omega": "idzorek", "view_confidences": [-0.01, 0.5]},
            "view_confidences: expected values in [0, 1]",
        ),
        ({"omega": np.eye(3)}, "omega: expected shape (2, 2), got (3, 3)"),
    ],
)
def test_omega_refusals(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(DataError) as caught:
        BlackLitterman(**kwargs).uncertainty(PICK, COV)
    assert str(caught.value) == message


def test_a_given_omega_matrix_is_used_as_it_is() -> None:
    given = np.array([[0.01, 0.0], [0.0, 0.02]])
    assert BlackLitterman(omega=given).uncertainty(PICK, COV) is not None
    assert np.array_equal(BlackLitterman(omega=given).uncertainty(PICK, COV), given)


def test_views_from_absolute_views_or_p_and_q() -> None:
    pick, q = BlackLitterman(absolute_views={"C": 0.02, "A": -0.01}).views(SYMBOLS)
    assert pick.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    assert q.tolist() == [0.02, -0.01]
    p = pd.DataFrame([[1.0, -1.0]], columns=["C", "A"])
    pick, q = BlackLitterman(P=p, Q=[0.03]).views(SYMBOLS)
    assert pick.tolist() == [[-1.0, 0.0, 1.0]]
    assert q.tolist() == [0.03]
    assert pick.dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"absolute_views": {"A": 0.1}, "Q": [0.1]},
            "views: give absolute_views or P and Q, not both",
        ),
        (
            {"absolute_views": {"A": 0.1}, "P": pd.DataFrame([[1.0]], columns=["A"])},
            "views: give absolute_views or P and Q, not both",
        ),
        (
            {"absolute_views": {"Z": 0.1, "Y": 0.2}},
            "absolute_views: ['Y', 'Z'] are not in the universe",
        ),
        ({}, "views: expected absolute_views, or P (views × symbols) and Q"),
        ({"Q": [0.1]}, "views: expected absolute_views, or P (views × symbols) and Q"),
        (
            {"P": pd.DataFrame([[1.0, 1.0]], columns=["A", "Z"]), "Q": [0.1]},
            "P: columns ['Z'] are not in the universe",
        ),
        (
            {"P": pd.DataFrame([[1.0, 1.0]], columns=["A", "B"]), "Q": [0.1, 0.2]},
            "Q: got 2 values for 1 views in P",
        ),
    ],
)
def test_view_refusals(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(DataError) as caught:
        BlackLitterman(**kwargs).views(SYMBOLS)
    assert str(caught.value) == message


def test_equilibrium_from_caps_or_a_prior() -> None:
    caps = {"A": 1.0, "B": 3.0, "C": 0.0}
    model = BlackLitterman(market_caps=caps, risk_aversion=3.0, risk_free_rate=0.001)
    weights = np.array([0.25, 0.75, 0.0])
    assert model.equilibrium(SYMBOLS, COV) == pytest.approx(3.0 * COV @ weights + 0.001)
    prior = BlackLitterman(prior={"A": 0.1, "B": 0.2, "C": 0.3}).equilibrium(SYMBOLS, COV)
    assert prior.tolist() == [0.1, 0.2, 0.3]
    default = BlackLitterman(market_caps=caps).equilibrium(SYMBOLS, COV)
    assert default == pytest.approx(2.5 * COV @ weights)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"prior": {"A": 0.1}, "market_caps": {"A": 1.0}},
            "prior: give prior or market_caps, not both",
        ),
        ({}, "market_caps: Black–Litterman needs market_caps or a prior"),
        (
            {"market_caps": {"A": -1.0, "B": 2.0, "C": 1.0}},
            "market_caps: expected non-negative values with a positive sum",
        ),
        (
            {"market_caps": {"A": 0.0, "B": 0.0, "C": 0.0}},
            "market_caps: expected non-negative values with a positive sum",
        ),
    ],
)
def test_equilibrium_refusals(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(DataError) as caught:
        BlackLitterman(**kwargs).equilibrium(SYMBOLS, COV)
    assert str(caught.value) == message
