"""A warm-started active-set solver for the homogenised maximum-Sharpe problem.

In a walk-forward the problem changes a little between rebalances, so the previous answer's
*active set* — which assets sit at a bound, which are held at their previous weight (no
trade), which trade up or down, which sector or turnover limits bind — is nearly right for the
next one. Given an active set, the optimum is one linear solve: the free assets' block of Σ is
diagonal plus rank k for a factor covariance (Woodbury, O(N·k²)) or a small dense block, and
the rest of the system has one row per binding limit. A primal-dual active-set iteration
(Hintermüller, Ito & Kunisch 2002) corrects the set from the solution's infeasibilities and
multiplier signs, usually in a few steps.

Nothing is taken on trust: an answer is returned only when it satisfies every KKT condition of
the convex problem — primal feasibility, stationarity with the subgradients of |Δy| and the
normal cones of the bounds, non-negative multipliers, complementary slackness — within
`tolerance`. Those conditions are sufficient for optimality of a convex problem, so a
certified answer is *the* optimum; anything else (a cycle, a singular system, too many steps)
returns None and the caller's next solver answers.

The problem (scaled, y = κ·w): minimise yᵀΣy subject to μᵀy − cᵀ|y − κp| = 1 (≥ 1, always
binding at the optimum), 1ᵀy = κ, l·κ ≤ y ≤ u·κ, C·y ≤ h·κ (sector caps, factor bounds, beta)
and ½·Σ|y − κp| ≤ τ·κ (turnover).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

# Asset states: trading up from the previous weight, trading down, or fixed at a value.
UP, DOWN, FIXED = 1, -1, 0
# Where a fixed asset sits.
AT_LOWER, AT_UPPER, AT_PREVIOUS = 0, 1, 2


class FactorRisk:
    """Σ = BᵀB + diag(s²) (B is k × N), applied and inverted on a subset in O(N·k²)."""

    def __init__(self, loadings: np.ndarray, specific_root: np.ndarray) -> None:
        self.loadings = loadings
        self.specific = specific_root * specific_root

    def times(self, vector: np.ndarray) -> np.ndarray:
        return self.loadings.T @ (self.loadings @ vector) + self.specific * vector

    def solve_block(self, free: np.ndarray, right: np.ndarray) -> np.ndarray | None:
        """Σ_FF⁻¹·right by Woodbury; None when a free asset has no specific variance."""
        diagonal = self.specific[free]
        if diagonal.size and diagonal.min() <= 1e-12 * max(float(diagonal.max()), 1e-300):
            return None
        loadings = self.loadings[:, free]
        scaled = loadings / diagonal
        inner = np.eye(loadings.shape[0]) + scaled @ loadings.T
        first = right / diagonal[:, None]
        try:
            correction = linalg.solve(inner, loadings @ first, assume_a="pos")
        except (linalg.LinAlgError, ValueError):
            return None
        return np.asarray(first - scaled.T @ correction)


class DenseRisk:
    """A dense Σ; the free block is small, so its Cholesky factor is cheap."""

    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix

    def times(self, vector: np.ndarray) -> np.ndarray:
        return np.asarray(self.matrix @ vector)

    def solve_block(self, free: np.ndarray, right: np.ndarray) -> np.ndarray | None:
        block = self.matrix[np.ix_(free, free)]
        try:
            return np.asarray(linalg.cho_solve(linalg.cho_factor(block), right))
        except (linalg.LinAlgError, ValueError):
            return None


Risk = FactorRisk | DenseRisk


@dataclass(frozen=True)
class SharpeInputs:
    """The scaled numbers of one rebalance (the `ConvexProblem` parameters' values)."""

    risk: Risk
    mu: np.ndarray
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    previous: np.ndarray
    rows: np.ndarray  # C: m × N, each row's limit is h·κ
    limits: np.ndarray  # h
    turnover: float | None  # τ (one-way), None when not constrained


@dataclass
class ActiveSet:
    """Which assets trade, which are fixed and where, and which limits bind."""

    state: np.ndarray  # UP, DOWN or FIXED per asset
    fixed_at: np.ndarray  # AT_LOWER, AT_UPPER or AT_PREVIOUS for fixed assets
    rows: np.ndarray  # bool per row of C
    turnover: bool

    def key(self) -> bytes:
        return (
            self.state.tobytes()
            + self.fixed_at.tobytes()
            + self.rows.tobytes()
            + bytes([self.turnover])
        )


@dataclass(frozen=True)
class Point:
    """An active set's optimum: y, κ and the multipliers of its equalities (return, budget,
    binding rows, turnover)."""

    y: np.ndarray
    kappa: float
    multipliers: np.ndarray


@dataclass(frozen=True)
class SharpeAnswer:
    """A certified optimum: y, κ, the active set that produced it and the steps taken."""

    y: np.ndarray
    kappa: float
    active: ActiveSet
    iterations: int


def nothing_trades(inputs: SharpeInputs) -> ActiveSet:
    """Every asset held at its previous weight (at a bound only where it is exactly there):
    a feasible start whenever the previous weights keep today's limits."""
    return active_set_from(inputs, inputs.previous, tolerance=1e-12)


def active_set_from(
    inputs: SharpeInputs, weights: np.ndarray, tolerance: float = 1e-7
) -> ActiveSet:
    """The active set a known answer (weights) implies, to warm-start the next rebalance."""
    previous = inputs.previous
    trade = weights - previous
    state = np.where(trade > tolerance, UP, np.where(trade < -tolerance, DOWN, FIXED))
    at_lower = weights <= inputs.lower + tolerance
    at_upper = weights >= inputs.upper - tolerance
    state = np.where(at_lower | at_upper, FIXED, state).astype(np.int8)
    fixed_at = np.where(at_lower, AT_LOWER, np.where(at_upper, AT_UPPER, AT_PREVIOUS))
    rows = inputs.rows @ weights >= inputs.limits - tolerance
    binding = inputs.turnover is not None and (
        0.5 * float(np.abs(trade).sum()) >= inputs.turnover - tolerance
    )
    return ActiveSet(state, fixed_at.astype(np.int8), rows.astype(bool), bool(binding))


@dataclass(frozen=True)
class Declined:
    """No certified answer, and why (the caller's next solver answers)."""

    reason: str


def solve_max_sharpe(
    inputs: SharpeInputs,
    start: ActiveSet,
    max_iterations: int = 40,
    tolerance: float = 1e-9,
) -> SharpeAnswer | Declined:
    """The certified optimum reached from `start`, or why there is none."""
    active = ActiveSet(start.state.copy(), start.fixed_at.copy(), start.rows.copy(), start.turnover)
    if inputs.turnover is None:
        active.turnover = False
    seen: set[bytes] = set()
    for iteration in range(1, max_iterations + 1):
        key = active.key()
        if key in seen:
            return Declined(f"the active set cycles after {iteration - 1} steps")
        seen.add(key)
        if _free_what_fixed_assets_break(inputs, active, tolerance):
            continue
        point = solve_equalities(inputs, active, tolerance)
        if isinstance(point, Declined):
            return point
        changed = _update(inputs, active, point, tolerance)
        if isinstance(changed, Declined):
            return changed
        if not changed:
            return SharpeAnswer(point.y, point.kappa, active, iterations=iteration)
    return Declined(f"no certified answer in {max_iterations} steps")


def fixed_values(inputs: SharpeInputs, active: ActiveSet) -> np.ndarray:
    return np.where(
        active.fixed_at == AT_LOWER,
        inputs.lower,
        np.where(active.fixed_at == AT_UPPER, inputs.upper, inputs.previous),
    )


def _free_what_fixed_assets_break(
    inputs: SharpeInputs, active: ActiveSet, tolerance: float
) -> bool:
    """A binding limit that the fixed assets alone break (a sector over its cap with none of
    its assets free) has no solution in this active set: free the fixed assets that can move
    the limit back (down where the coefficient is positive, up where negative). The same for
    the turnover limit. True if anything was freed."""
    fixed = active.state == FIXED
    values = np.where(fixed, fixed_values(inputs, active), 0.0)
    previous = inputs.previous
    release = np.zeros(fixed.size, dtype=bool)
    direction = np.zeros(fixed.size)
    for row in np.flatnonzero(active.rows):
        coefficients = inputs.rows[row]
        if np.any(coefficients[~fixed]):
            continue
        if float(coefficients @ values - inputs.limits[row]) > tolerance:
            down = fixed & (coefficients > 0) & (values > inputs.lower + tolerance)
            up = fixed & (coefficients < 0) & (values < inputs.upper - tolerance)
            release |= down | up
            direction = np.where(down, -1.0, np.where(up, 1.0, direction))
    if active.turnover and not np.any(~fixed) and inputs.turnover is not None:
        gap = values - previous
        if 0.5 * float(np.abs(gap).sum()) - inputs.turnover > tolerance:
            away = fixed & (np.abs(gap) > tolerance)
            release |= away
            direction = np.where(away, -np.sign(gap), direction)
    if not np.any(~fixed):
        # Every asset fixed: the budget Σaᵢ = 1 must hold as it is; if not, free the assets
        # that can move it there.
        short = 1.0 - float(values.sum())
        if abs(short) > tolerance:
            can = (
                values < inputs.upper - tolerance
                if short > 0
                else values > inputs.lower + tolerance
            )
            release |= can
            direction = np.where(can, np.sign(short), direction)
    if not release.any():
        return False
    # Moving from aᵢ in `direction`: the trade's sign is that of (aᵢ - pᵢ) where they differ.
    gap = values - previous
    sign = np.where(np.abs(gap) > tolerance, np.sign(gap), direction)
    active.state = np.where(release, np.where(sign > 0, UP, DOWN), active.state).astype(np.int8)
    return True


def solve_equalities(inputs: SharpeInputs, active: ActiveSet, tolerance: float) -> Point | Declined:
    """Minimise yᵀΣy with fixed assets at aᵢ·κ and every binding constraint as an equality.

    Unknowns: the free assets' y_F and κ, with one multiplier per equality (return, budget,
    binding rows, turnover). y_F is eliminated through Σ_FF⁻¹, leaving a small dense system in
    (κ, multipliers). Returns the point, or Declined if the system is singular.
    """
    free = np.flatnonzero(active.state != FIXED)
    fixed = active.state == FIXED
    sign = active.state[free].astype(np.float64)
    held = np.where(fixed, fixed_values(inputs, active), 0.0)
    mu, cost, previous = inputs.mu, inputs.cost, inputs.previous
    fixed_gap = np.abs(held - previous) * fixed
    # Equality rows over (y_F, κ): coefficients on y_F, on κ, and the right-hand side.
    on_free = [mu[free] - cost[free] * sign, np.ones(free.size)]
    on_kappa = [
        float(cost[free] @ (sign * previous[free]) + mu @ held - cost @ fixed_gap),
        float(held.sum() - 1.0),
    ]
    rhs = [1.0, 0.0]
    for row in np.flatnonzero(active.rows):
        coefficients = inputs.rows[row]
        slack = float(coefficients @ held - inputs.limits[row])
        if not np.any(coefficients[free]):
            # Only fixed assets in this limit: it holds (or breaks) whatever κ is, so it is
            # no equation; kept, its multiplier is 0 (a sector left exactly at its cap).
            if slack > tolerance:
                return Declined(f"limit row {row} is broken by the fixed assets alone")
            active.rows[row] = False
            continue
        on_free.append(coefficients[free])
        on_kappa.append(slack)
        rhs.append(0.0)
    if active.turnover:
        assert inputs.turnover is not None
        slack = float(-0.5 * sign @ previous[free] + 0.5 * fixed_gap.sum() - inputs.turnover)
        if free.size == 0:
            if slack > tolerance:
                return Declined("the turnover limit is broken by the fixed assets alone")
            active.turnover = False
        else:
            on_free.append(0.5 * sign)
            on_kappa.append(slack)
            rhs.append(0.0)
    constraints_free = np.vstack(on_free)  # m × n_F
    constraints_kappa = np.asarray(on_kappa)
    m = constraints_free.shape[0]
    # Hessian blocks of 2·yᵀΣy in (y_F, κ), y = y_F on F and a·κ on the fixed assets.
    sigma_fixed = inputs.risk.times(held)
    h_free_kappa = 2.0 * sigma_fixed[free]
    h_kappa_kappa = 2.0 * float(held @ sigma_fixed)
    coupling = np.column_stack([h_free_kappa, constraints_free.T])  # n_F × (1 + m)
    if free.size:
        inverse = inputs.risk.solve_block(free, coupling)
        if inverse is None:
            return Declined("the free assets' covariance block is singular")
        inverse = inverse / 2.0  # (2Σ_FF)⁻¹
        reduced = coupling.T @ inverse
    else:
        inverse = np.zeros((0, 1 + m))
        reduced = np.zeros((1 + m, 1 + m))
    small = np.zeros((1 + m, 1 + m))
    small[0, 0] = h_kappa_kappa
    small[0, 1:] = constraints_kappa
    small[1:, 0] = constraints_kappa
    small -= reduced
    right = np.concatenate([[0.0], rhs])
    if not np.all(np.isfinite(small)):
        return Declined("non-finite numbers in the reduced system")
    if np.linalg.cond(small) < 1e12:
        unknowns = linalg.solve(small, right, assume_a="sym")
    else:
        # Dependent binding limits (e.g. the budget when every asset is fixed): the
        # multipliers are not unique; take the least-norm ones if the system is consistent.
        unknowns = linalg.lstsq(small, right, cond=1e-12)[0]
        if float(np.abs(small @ unknowns - right).max()) > tolerance:
            return Declined("the binding limits are inconsistent (no multipliers fit)")
    kappa = float(unknowns[0])
    if not kappa > 0:
        return Declined(f"the scale κ came out {kappa:.3g}, not positive")
    y = held * kappa
    y[free] = -inverse @ unknowns
    return Point(y, kappa, unknowns[1:])


def multipliers_of(
    inputs: SharpeInputs, active: ActiveSet, point: Point
) -> tuple[float, np.ndarray, float, np.ndarray, np.ndarray]:
    """From the equality solve's multipliers: the return constraint's (>= 0 at an optimum),
    each limit row's, the turnover limit's, the smooth part of each asset's Lagrangian
    gradient, and the weight wᵢ of |Δyᵢ| in it (cost and turnover)."""
    binding_rows, multipliers = np.flatnonzero(active.rows), point.multipliers
    return_multiplier = -float(multipliers[0])  # for μᵀy - cᵀ|Δ| >= 1
    row_multipliers = np.zeros(inputs.rows.shape[0])
    row_multipliers[binding_rows] = multipliers[2 : 2 + binding_rows.size]
    turnover_multiplier = float(multipliers[-1]) if active.turnover else 0.0
    gradient = (
        2.0 * inputs.risk.times(point.y)
        - return_multiplier * inputs.mu
        + float(multipliers[1])
        + inputs.rows.T @ row_multipliers
    )
    weight = return_multiplier * inputs.cost + 0.5 * turnover_multiplier
    return return_multiplier, row_multipliers, turnover_multiplier, gradient, weight


def fixed_multipliers(
    inputs: SharpeInputs,
    active: ActiveSet,
    kappa: float,
    gradient: np.ndarray,
    weight: np.ndarray,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per asset, as if fixed: its value aᵢ·κ, the multiplier of "yᵢ = aᵢ·κ" stationarity asks
    for, and the interval [low, high] a KKT point allows it (±wᵢ at the previous weight, where
    ∂|Δᵢ| is [-1, 1]; unbounded toward a bound the asset sits at)."""
    previous = inputs.previous * kappa
    values = fixed_values(inputs, active) * kappa
    near = tolerance * kappa
    slope = np.sign(np.where(np.abs(values - previous) > near, values - previous, 0.0))
    wanted = -(gradient + weight * slope)
    at_previous = np.abs(values - previous) <= near
    high = np.where(at_previous, weight, 0.0)
    low = np.where(at_previous, -weight, 0.0)
    high = np.where(np.abs(values - inputs.upper * kappa) <= near, np.inf, high)
    low = np.where(np.abs(values - inputs.lower * kappa) <= near, -np.inf, low)
    return values, wanted, low, high


def released_sign(values: np.ndarray, previous: np.ndarray, up: bool, near: float) -> np.ndarray:
    """The trade's sign once a fixed asset moves up (or down) from its value: the side of the
    previous weight it is on, or the direction it moves when it is at it."""
    if up:
        return np.where(values >= previous - near, UP, DOWN)
    return np.where(values <= previous + near, DOWN, UP)


def _update(
    inputs: SharpeInputs, active: ActiveSet, point: Point, tolerance: float
) -> bool | Declined:
    """Check every KKT condition; move what fails to its other state. True if anything moved,
    False if the answer is certified, Declined if it cannot be."""
    y, kappa = point.y, point.kappa
    return_multiplier, row_multipliers, turnover_multiplier, gradient, weight = multipliers_of(
        inputs, active, point
    )
    if return_multiplier < -tolerance:
        return Declined("the return constraint's multiplier is negative")
    scale = max(1.0, float(np.abs(y).max()) / max(kappa, 1e-300))
    tol = tolerance * scale
    changed = False
    # Limits: a binding one with a negative multiplier is released; a loose one that is
    # broken binds.
    usage = inputs.rows @ y - inputs.limits * kappa
    released_rows = active.rows & (row_multipliers < -tol)
    broken_rows = ~active.rows & (usage > tol * kappa)
    if released_rows.any() or broken_rows.any():
        active.rows = (active.rows & ~released_rows) | broken_rows
        changed = True
    trade = y - kappa * inputs.previous
    if inputs.turnover is not None:
        spent = 0.5 * float(np.abs(trade).sum()) - inputs.turnover * kappa
        if active.turnover and turnover_multiplier < -tol:
            active.turnover, changed = False, True
        elif not active.turnover and spent > tol * kappa:
            active.turnover, changed = True, True
    # Each asset: stationarity 0 ∈ gradᵢ + wᵢ·∂|Δᵢ| + N_[lκ, uκ](yᵢ).
    lower, upper, previous = inputs.lower * kappa, inputs.upper * kappa, inputs.previous * kappa
    moving = active.state != FIXED
    # Free assets: inside their interval ([max(p, l), u] going up, [l, min(p, u)] going down)?
    going_up = active.state == UP
    floor = np.where(going_up, np.maximum(previous, lower), lower)
    ceiling = np.where(going_up, upper, np.minimum(previous, upper))
    below = moving & (y < floor - tol * kappa)
    above = moving & (y > ceiling + tol * kappa)
    if below.any() or above.any():
        changed = True
        # Below the floor: fixed where the floor is (the previous weight when going up above
        # the lower bound, else the lower bound); above the ceiling likewise.
        up_floor_previous = going_up & (previous >= lower)
        down_ceiling_previous = ~going_up & (previous <= upper)
        active.fixed_at = np.where(
            below,
            np.where(up_floor_previous, AT_PREVIOUS, AT_LOWER),
            np.where(
                above,
                np.where(down_ceiling_previous, AT_PREVIOUS, AT_UPPER),
                active.fixed_at,
            ),
        ).astype(np.int8)
        active.state = np.where(below | above, FIXED, active.state).astype(np.int8)
    # Fixed assets held at a previous weight outside today's bounds (a lower cap, say) are
    # moved to the bound they break.
    fixed = ~moving
    held = fixed & (active.fixed_at == AT_PREVIOUS)
    over, under = held & (previous > upper + tol * kappa), held & (previous < lower - tol * kappa)
    if over.any() or under.any():
        active.fixed_at = np.where(
            over, AT_UPPER, np.where(under, AT_LOWER, active.fixed_at)
        ).astype(np.int8)
        return True
    # Fixed assets: is the multiplier of "yᵢ = aᵢ·κ" in its allowed interval?
    values, multiplier, low, high = fixed_multipliers(inputs, active, kappa, gradient, weight, tol)
    push_up = fixed & (multiplier > high + tol)
    push_down = fixed & (multiplier < low - tol)
    if push_up.any() or push_down.any():
        changed = True
        up_sign = released_sign(values, previous, up=True, near=tol * kappa)
        down_sign = released_sign(values, previous, up=False, near=tol * kappa)
        active.state = np.where(
            push_up, up_sign, np.where(push_down, down_sign, active.state)
        ).astype(np.int8)
    if changed:
        return True
    # Certify what the equality solve promised: free stationarity, budget, return and
    # complementary slackness (non-binding limits have zero multipliers by construction).
    free_residual = gradient + weight * np.where(going_up, 1.0, -1.0)
    if moving.any() and float(np.abs(free_residual[moving]).max()) > tol * 10:
        return Declined("stationarity residual above tolerance (round-off)")
    excess = float(inputs.mu @ y - inputs.cost @ np.abs(trade))
    if abs(excess - 1.0) > tol * 10 or abs(float(y.sum()) - kappa) > tol * 10 * kappa:
        return Declined("return or budget residual above tolerance (round-off)")
    return False


def certify(
    inputs: SharpeInputs, active: ActiveSet, point: Point, tolerance: float
) -> Declined | None:
    """None when the point satisfies every KKT condition, else why not."""
    probe = ActiveSet(
        active.state.copy(), active.fixed_at.copy(), active.rows.copy(), active.turnover
    )
    verdict = _update(inputs, probe, point, tolerance)
    if verdict is False:
        return None
    if isinstance(verdict, Declined):
        return verdict
    return Declined("a KKT condition fails at the final point")
