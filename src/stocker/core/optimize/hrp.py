"""Hierarchical Risk Parity (López de Prado 2016) and the tree it stands on.

Two conventions, both from the correlation distance d_ij = √(½(1 − ρ_ij)):

- "lopez_de_prado" (default, the paper's code): `linkage(d, "single")` is given the n×n matrix d
  itself, which scipy treats as n observations, so the clustering runs on the Euclidean distance
  between rows of d (a "distance of distances"). Leaves in dendrogram order (quasi-diagonal).
- "condensed" (PyPortfolioOpt, skfolio, Riskfolio-Lib): the linkage is computed on the condensed
  d itself, with any scipy linkage method; `optimal_ordering=True` reorders the leaves
  (Bar-Joseph et al. 2001) as skfolio does by default.

Recursive bisection follows the paper: split the ordered leaves in halves (not along the tree),
give each half the variance of its inverse-variance portfolio, and split weight in inverse
proportion to those variances.

Weight bounds are applied *during* the bisection: when a cluster holding weight W is split, the
left share W·α is clipped into [max(ΣlowerL, W − ΣupperR), min(ΣupperL, W − ΣlowerR)]. That
interval is never empty when ΣlowerC ≤ W ≤ ΣupperC, which holds at the root if Σlower ≤ 1 ≤ Σupper
and is then inherited by both halves — so every leaf ends inside its bounds with no renormalisation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import scipy.cluster.hierarchy as sch
from scipy.spatial.distance import pdist, squareform

from stocker.core.errors import DataError, InfeasibleError

Convention = Literal["lopez_de_prado", "condensed"]
DISTANCE = "sqrt((1 - correlation) / 2)"


@dataclass(frozen=True)
class Tree:
    """A clustering of a universe, as stored in `hrp_trees` (JSON) and reused by HRP and HERC."""

    labels: tuple[str, ...]
    convention: str
    linkage_method: str
    distance: str
    optimal_ordering: bool
    linkage: tuple[tuple[float, float, float, float], ...]
    leaf_order: tuple[int, ...]

    @property
    def ordered_labels(self) -> list[str]:
        """Symbols in leaf order (the quasi-diagonal order)."""
        return [self.labels[i] for i in self.leaf_order]

    def linkage_matrix(self) -> np.ndarray:
        """The scipy linkage matrix."""
        return np.array(self.linkage, dtype=np.float64).reshape(-1, 4)

    def to_json(self) -> str:
        """JSON for the `hrp_trees` table; `from_json` reads it back exactly."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Tree:
        """Rebuild a tree saved by `to_json`."""
        data = json.loads(text)
        return cls(
            labels=tuple(data["labels"]),
            convention=data["convention"],
            linkage_method=data["linkage_method"],
            distance=data["distance"],
            optimal_ordering=bool(data["optimal_ordering"]),
            linkage=tuple(tuple(float(v) for v in row) for row in data["linkage"]),  # type: ignore[misc]
            leaf_order=tuple(int(i) for i in data["leaf_order"]),
        )


def correlation_distance(correlation: np.ndarray) -> np.ndarray:
    """d = √(½(1 − ρ)), clipped so round-off cannot make it NaN."""
    return np.sqrt(np.clip((1.0 - correlation) / 2.0, 0.0, 1.0))


def build_tree(
    correlation: np.ndarray,
    labels: Sequence[str],
    convention: Convention = "lopez_de_prado",
    linkage_method: str = "single",
    optimal_ordering: bool = False,
) -> Tree:
    """Cluster the assets by correlation distance under the chosen convention."""
    correlation = np.asarray(correlation, dtype=np.float64)
    n_assets = correlation.shape[0]
    if correlation.shape != (n_assets, n_assets) or len(labels) != n_assets:
        raise DataError(
            f"correlation: expected a square matrix matching {len(labels)} labels, "
            f"got shape {correlation.shape}"
        )
    if n_assets < 2:
        raise DataError(f"labels: a clustering tree needs at least 2 assets, got {n_assets}")
    distance = correlation_distance(correlation)
    np.fill_diagonal(distance, 0.0)
    if convention == "lopez_de_prado":
        condensed = pdist(distance, metric="euclidean")
        distance_name = f"euclidean distance between rows of {DISTANCE}"
    elif convention == "condensed":
        condensed = squareform((distance + distance.T) / 2.0, checks=False)
        distance_name = DISTANCE
    else:
        raise DataError(f"convention: got {convention!r}, expected 'lopez_de_prado' or 'condensed'")
    if linkage_method not in sch._LINKAGE_METHODS and linkage_method not in (
        "centroid",
        "median",
        "ward",
    ):
        raise DataError(f"linkage_method: got {linkage_method!r}, expected a scipy linkage method")
    linkage = sch.linkage(condensed, method=linkage_method)
    if optimal_ordering:
        linkage = sch.optimal_leaf_ordering(linkage, condensed)
    order = sch.leaves_list(linkage)
    return Tree(
        labels=tuple(labels),
        convention=convention,
        linkage_method=linkage_method,
        distance=distance_name,
        optimal_ordering=optimal_ordering,
        linkage=tuple(tuple(float(v) for v in row) for row in linkage),  # type: ignore[misc]
        leaf_order=tuple(int(i) for i in order),
    )


def inverse_variance_risk(covariance: np.ndarray, members: np.ndarray) -> float:
    """Variance of the inverse-variance portfolio of `members` (the paper's cluster variance)."""
    block = covariance[np.ix_(members, members)]
    weights = 1.0 / np.diag(block)
    weights /= weights.sum()
    return float(weights @ block @ weights)


def check_bounds(lower: np.ndarray, upper: np.ndarray) -> None:
    """Bisection can honour the bounds iff Σlower ≤ 1 ≤ Σupper; otherwise name them."""
    conflicts = []
    if lower.sum() > 1.0 + 1e-12:
        conflicts.append(f"min_weight (sum of minimums {lower.sum():.4g} > 1)")
    if upper.sum() < 1.0 - 1e-12:
        conflicts.append(f"max_weight (sum of maximums {upper.sum():.4g} < 1)")
    if conflicts:
        raise InfeasibleError("weights cannot sum to 1 with " + " and ".join(conflicts))


def split_within_bounds(
    alpha: float,
    parent_weight: float,
    left: np.ndarray,
    right: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> float:
    """Clip the left share α so both halves can still meet their members' bounds."""
    low = max(lower[left].sum(), parent_weight - upper[right].sum())
    high = min(upper[left].sum(), parent_weight - lower[right].sum())
    left_weight = min(max(alpha * parent_weight, low), high)
    return left_weight / parent_weight if parent_weight > 0 else 0.5


def hrp_weights(
    covariance: np.ndarray,
    tree: Tree,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> np.ndarray:
    """Recursive bisection over the tree's leaf order; weights aligned with `tree.labels`."""
    covariance = np.asarray(covariance, dtype=np.float64)
    n_assets = covariance.shape[0]
    if n_assets != len(tree.labels):
        raise DataError(f"tree: built for {len(tree.labels)} symbols, covariance has {n_assets}")
    if np.any(np.diag(covariance) <= 0):
        raise DataError("covariance: every asset needs a variance > 0 for HRP")
    lower = np.zeros(n_assets) if lower is None else lower
    upper = np.ones(n_assets) if upper is None else upper
    check_bounds(lower, upper)
    weights = np.ones(n_assets)
    clusters = [np.asarray(tree.leaf_order)]
    while clusters:
        halves = []
        for cluster in clusters:
            if len(cluster) < 2:
                continue
            middle = len(cluster) // 2
            left, right = cluster[:middle], cluster[middle:]
            left_risk = inverse_variance_risk(covariance, left)
            right_risk = inverse_variance_risk(covariance, right)
            alpha = 1.0 - left_risk / (left_risk + right_risk)
            parent = weights[cluster[0]]
            alpha = split_within_bounds(alpha, parent, left, right, lower, upper)
            weights[left] *= alpha
            weights[right] *= 1.0 - alpha
            halves += [left, right]
        clusters = halves
    return weights
