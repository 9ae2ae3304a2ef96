"""Hierarchical Equal Risk Contribution (Raffinot 2017), on the same stored `Tree` as HRP.

The dendrogram is cut into `n_clusters` flat clusters (`fcluster(..., "maxclust")`); inside a
cluster assets get inverse-variance weights; from the root down to the clusters, each split of
the dendrogram gives the left subtree 1 − R_L/(R_L + R_R), where R is the sum of its clusters'
inverse-variance variances — skfolio's variance convention, so the two agree without bounds.
The default number of clusters is the two-order-difference gap statistic (Yue et al. 2009).

Bounds are applied during the descent, as in `hrp.split_within_bounds`, at every split of the
dendrogram (down to single assets inside a cluster, where the split shares follow the
inverse-variance weights), so every asset ends inside its bounds without renormalising.
"""

from __future__ import annotations

import numpy as np
import scipy.cluster.hierarchy as sch
from scipy.spatial.distance import squareform

from stocker.core.errors import DataError
from stocker.core.optimize.hrp import (
    Tree,
    check_bounds,
    correlation_distance,
    inverse_variance_risk,
    split_within_bounds,
)


def optimal_cluster_count(correlation: np.ndarray, tree: Tree) -> int:
    """Number of clusters maximising the two-order difference of within-cluster dispersion."""
    n_assets = correlation.shape[0]
    if n_assets <= 2:
        return n_assets
    distance = correlation_distance(correlation)
    np.fill_diagonal(distance, 0.0)
    cuts = sch.cut_tree(tree.linkage_matrix())
    max_clusters = min(n_assets, max(8, round(np.sqrt(n_assets))))
    dispersion = []
    for k in range(max_clusters):
        level = cuts[:, n_assets - k - 1]
        total = 0.0
        for label in range(int(level.max()) + 1):
            members = np.flatnonzero(level == label)
            pairs = squareform(distance[np.ix_(members, members)], checks=False)
            if pairs.size:
                total += float(np.nan_to_num(pairs.mean()))
        dispersion.append(total)
    values = np.array(dispersion)
    gaps = (np.roll(values, -2) + values - 2 * np.roll(values, -1))[:-2]
    return int(np.argmax(gaps)) + 2


def herc_weights(
    covariance: np.ndarray,
    tree: Tree,
    n_clusters: int,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
) -> np.ndarray:
    """HERC weights aligned with `tree.labels`."""
    covariance = np.asarray(covariance, dtype=np.float64)
    n_assets = covariance.shape[0]
    if n_assets != len(tree.labels):
        raise DataError(f"tree: built for {len(tree.labels)} symbols, covariance has {n_assets}")
    if not 1 <= n_clusters <= n_assets:
        raise DataError(f"n_clusters: got {n_clusters}, expected 1..{n_assets}")
    lower = np.zeros(n_assets) if lower is None else lower
    upper = np.ones(n_assets) if upper is None else upper
    check_bounds(lower, upper)
    linkage = tree.linkage_matrix()
    labels = sch.fcluster(linkage, t=n_clusters, criterion="maxclust") - 1
    cluster_of = {int(i): int(label) for i, label in enumerate(labels)}
    cluster_risk = {
        label: inverse_variance_risk(covariance, np.flatnonzero(labels == label))
        for label in set(labels.tolist())
    }
    inverse_variance = 1.0 / np.diag(covariance)
    weights = np.zeros(n_assets)

    def descend(node: sch.ClusterNode, weight: float) -> None:
        members = np.asarray(node.pre_order())
        if node.is_leaf():
            weights[members[0]] = weight
            return
        left, right = node.get_left(), node.get_right()
        left_members = np.asarray(left.pre_order())
        right_members = np.asarray(right.pre_order())
        if len({cluster_of[int(i)] for i in members}) == 1:
            # Inside a flat cluster: split by inverse variance, as the cluster's own weights.
            left_ivp = inverse_variance[left_members].sum()
            alpha = left_ivp / (left_ivp + inverse_variance[right_members].sum())
        else:
            left_risk = sum(cluster_risk[c] for c in {cluster_of[int(i)] for i in left_members})
            right_risk = sum(cluster_risk[c] for c in {cluster_of[int(i)] for i in right_members})
            alpha = 1.0 - left_risk / (left_risk + right_risk)
        alpha = split_within_bounds(alpha, weight, left_members, right_members, lower, upper)
        descend(left, weight * alpha)
        descend(right, weight * (1.0 - alpha))

    descend(sch.to_tree(linkage), 1.0)
    return weights
