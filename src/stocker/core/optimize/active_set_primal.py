"""The primal active-set method for maximum Sharpe: slower than the primal-dual iteration of
`active_set`, but it cannot land in an impossible active set, so it answers where that one
declines (small universes with a binding turnover limit and large moves between rebalances).

It starts from the previous weights ("nothing trades", y = κ·p) — feasible whenever they keep
today's limits and earn a positive expected return — and keeps every iterate feasible: each
step moves toward the optimum of the current active set and stops at the first limit, bound or
previous weight it meets, which joins the set; at that optimum, the single most violated
multiplier condition leaves it (Nocedal & Wright, Numerical Optimization, algorithm 16.3, with
the trades' kinks at the previous weights as breakpoints). The answer carries the same KKT
certificate as the primal-dual iteration.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from stocker.core.optimize.active_set import (
    AT_LOWER,
    AT_PREVIOUS,
    AT_UPPER,
    FIXED,
    UP,
    ActiveSet,
    Declined,
    Point,
    SharpeAnswer,
    SharpeInputs,
    certify,
    fixed_multipliers,
    fixed_values,
    multipliers_of,
    nothing_trades,
    released_sign,
    solve_equalities,
)


def solve_max_sharpe_primal(
    inputs: SharpeInputs, max_iterations: int = 400, tolerance: float = 1e-9
) -> SharpeAnswer | Declined:
    """The certified optimum reached from the previous weights, or why there is none."""
    previous = inputs.previous
    expected = float(inputs.mu @ previous)
    if not expected > 0:
        return Declined("the previous weights earn no positive expected return (no start)")
    if (
        np.any(previous < inputs.lower - tolerance)
        or np.any(previous > inputs.upper + tolerance)
        or np.any(inputs.rows @ previous > inputs.limits + tolerance)
        or abs(float(previous.sum()) - 1.0) > tolerance
    ):
        return Declined("the previous weights break today's limits (no feasible start)")
    active = nothing_trades(inputs)
    active.rows = inputs.rows @ previous >= inputs.limits - tolerance
    active.turnover = inputs.turnover is not None and inputs.turnover <= tolerance
    kappa = 1.0 / expected
    y = previous * kappa
    for iteration in range(1, max_iterations + 1):
        target = solve_equalities(inputs, active, tolerance)
        if isinstance(target, Declined):
            return target
        blocking = _first_blocking(inputs, active, y, kappa, target.y, target.kappa, tolerance)
        if blocking is not None:
            step, add = blocking
            y = y + step * (target.y - y)
            kappa = kappa + step * (target.kappa - kappa)
            add(active)
            continue
        y, kappa = target.y, target.kappa
        if not _drop_most_violated(inputs, active, target, tolerance):
            verdict = certify(inputs, active, target, tolerance)
            if isinstance(verdict, Declined):
                return verdict
            return SharpeAnswer(y, kappa, active, iterations=iteration)
    return Declined(
        f"the primal active-set method found no certified answer in {max_iterations} steps"
    )


def _first_blocking(
    inputs: SharpeInputs,
    active: ActiveSet,
    y: np.ndarray,
    kappa: float,
    target_y: np.ndarray,
    target_kappa: float,
    tolerance: float,
) -> tuple[float, Callable[[ActiveSet], None]] | None:
    """The first limit the step from (y, κ) to the target meets, as (step length, how to add
    it to the active set); None when the target keeps every limit outside the set."""
    previous, lower, upper = inputs.previous, inputs.lower, inputs.upper
    moving = active.state != FIXED
    going_up = active.state == UP
    floor = np.where(going_up, np.maximum(previous, lower), lower)
    ceiling = np.where(going_up, upper, np.minimum(previous, upper))
    # Every candidate is g(y, κ) >= 0, linear: g at the start and at the target.
    names: list[tuple[str, int]] = []
    now: list[np.ndarray] = []
    then: list[np.ndarray] = []
    index = np.flatnonzero(moving)
    names += [("floor", int(i)) for i in index] + [("ceiling", int(i)) for i in index]
    now += [y[index] - kappa * floor[index], kappa * ceiling[index] - y[index]]
    then += [
        target_y[index] - target_kappa * floor[index],
        target_kappa * ceiling[index] - target_y[index],
    ]
    loose = np.flatnonzero(~active.rows)
    names += [("row", int(j)) for j in loose]
    now.append(kappa * inputs.limits[loose] - inputs.rows[loose] @ y)
    then.append(target_kappa * inputs.limits[loose] - inputs.rows[loose] @ target_y)
    if inputs.turnover is not None and not active.turnover:
        names.append(("turnover", 0))
        now.append(np.array([_turnover_room(inputs, active, y, kappa)]))
        then.append(np.array([_turnover_room(inputs, active, target_y, target_kappa)]))
    start, end = np.concatenate(now), np.concatenate(then)
    scale = max(kappa, target_kappa)
    broken = end < -tolerance * scale
    if not broken.any():
        return None
    steps = np.full(start.size, np.inf)
    room = np.clip(start[broken], 0.0, None)
    steps[broken] = room / (room - end[broken])
    first = int(np.argmin(steps))
    kind, which = names[first]
    return float(np.clip(steps[first], 0.0, 1.0)), _adder(inputs, kind, which)


def _turnover_room(inputs: SharpeInputs, active: ActiveSet, y: np.ndarray, kappa: float) -> float:
    """τ·κ - ½Σ|yᵢ - κ·pᵢ| in the active set's linear form (signs of the free trades, fixed
    assets at their values), so that it is linear along a step."""
    assert inputs.turnover is not None
    sign = np.where(active.state == FIXED, 0.0, active.state.astype(np.float64))
    fixed = active.state == FIXED
    gap = np.abs(fixed_values(inputs, active) - inputs.previous)
    spent = 0.5 * (float(sign @ (y - kappa * inputs.previous)) + kappa * float(gap[fixed].sum()))
    return inputs.turnover * kappa - spent


def _adder(inputs: SharpeInputs, kind: str, which: int) -> Callable[[ActiveSet], None]:
    """How the blocking limit joins the active set."""

    def add(active: ActiveSet) -> None:
        if kind == "row":
            active.rows[which] = True
        elif kind == "turnover":
            active.turnover = True
        else:
            up = active.state[which] == UP
            previous, lower, upper = (
                inputs.previous[which],
                inputs.lower[which],
                inputs.upper[which],
            )
            if kind == "floor":
                at = AT_PREVIOUS if up and previous >= lower else AT_LOWER
            else:
                at = AT_UPPER if up or previous > upper else AT_PREVIOUS
            active.state[which] = FIXED
            active.fixed_at[which] = at

    return add


def _drop_most_violated(
    inputs: SharpeInputs, active: ActiveSet, point: Point, tolerance: float
) -> bool:
    """At the active set's optimum: release the one member whose multiplier condition is most
    violated (a fixed asset that wants to move, a binding limit pulling the wrong way). False
    when none is, i.e. the point is a KKT point."""
    _, row_multipliers, turnover_multiplier, gradient, weight = multipliers_of(
        inputs, active, point
    )
    fixed = active.state == FIXED
    kappa = point.kappa
    values, wanted, low, high = fixed_multipliers(
        inputs, active, kappa, gradient, weight, tolerance
    )
    previous, near = inputs.previous * kappa, tolerance * kappa
    up_by = np.where(fixed, wanted - high, -np.inf)
    down_by = np.where(fixed, low - wanted, -np.inf)
    rows_by = np.where(active.rows, -row_multipliers, -np.inf)
    turnover_by = -turnover_multiplier if active.turnover else -np.inf
    candidates = [float(up_by.max()), float(down_by.max()), float(rows_by.max()), turnover_by]
    best = int(np.argmax(candidates))
    if candidates[best] <= tolerance:
        return False
    if best < 2:
        i = int(np.argmax(up_by if best == 0 else down_by))
        sign = released_sign(values[i : i + 1], previous[i : i + 1], up=best == 0, near=near)
        active.state[i] = int(sign[0])
    elif best == 2:
        active.rows[int(np.argmax(rows_by))] = False
    else:
        active.turnover = False
    return True
