"""HRP against the paper's own code, tree serialisation, and tree reuse."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.cluster.hierarchy as sch

from stocker.core.errors import DataError
from stocker.core.optimize import Tree, build_tree, optimize


def _paper_hrp(covariance: pd.DataFrame, correlation: pd.DataFrame) -> pd.Series:
    """López de Prado (2016), Snippets 16.1–16.4, kept as in the paper (pandas-modernised)."""
    distance = ((1 - correlation) / 2.0) ** 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns the square matrix looks like distances
        link = sch.linkage(distance, "single")
    link = link.astype(int)
    sort_ix = pd.Series([link[-1, 0], link[-1, 1]])
    num_items = link[-1, 3]
    while sort_ix.max() >= num_items:
        sort_ix.index = pd.RangeIndex(0, sort_ix.shape[0] * 2, 2)
        df0 = sort_ix[sort_ix >= num_items]
        i = df0.index
        j = df0.values - num_items
        sort_ix[i] = link[j, 0]
        df0 = pd.Series(link[j, 1], index=i + 1)
        sort_ix = pd.concat([sort_ix, df0]).sort_index()
        sort_ix.index = pd.RangeIndex(sort_ix.shape[0])
    order = correlation.index[sort_ix.tolist()].tolist()
    weights = pd.Series(1.0, index=order)
    clusters = [order]
    while clusters:
        clusters = [
            c[j:k]
            for c in clusters
            for j, k in ((0, len(c) // 2), (len(c) // 2, len(c)))
            if len(c) > 1
        ]
        for i in range(0, len(clusters), 2):
            left, right = clusters[i], clusters[i + 1]
            variances = []
            for items in (left, right):
                block = covariance.loc[items, items]
                ivp = 1 / np.diag(block)
                ivp /= ivp.sum()
                variances.append(float(ivp @ block.to_numpy() @ ivp))
            alpha = 1 - variances[0] / (variances[0] + variances[1])
            weights[left] *= alpha
            weights[right] *= 1 - alpha
    return weights


def test_default_hrp_equals_the_papers_code(returns: pd.DataFrame) -> None:
    weights = optimize(returns, "hrp")
    expected = _paper_hrp(returns.cov(), returns.corr()).reindex(returns.columns)
    np.testing.assert_allclose(weights, expected, atol=1e-12)
    tree = weights.attrs["result"].tree
    assert tree.convention == "lopez_de_prado" and tree.linkage_method == "single"
    assert tree.distance.startswith("euclidean distance between rows")


def test_the_two_conventions_give_different_trees_on_real_data(returns: pd.DataFrame) -> None:
    correlation = returns.corr().to_numpy()
    paper = build_tree(correlation, list(returns.columns))
    library = build_tree(correlation, list(returns.columns), convention="condensed")
    assert paper.leaf_order != library.leaf_order


def test_tree_round_trips_through_json(returns: pd.DataFrame) -> None:
    tree = build_tree(
        returns.corr().to_numpy(), list(returns.columns), "condensed", "ward", optimal_ordering=True
    )
    again = Tree.from_json(tree.to_json())
    assert again == tree
    assert again.ordered_labels[0] in returns.columns
    assert '"linkage_method":"ward"' in tree.to_json()


def test_a_stored_tree_is_reused_as_given(returns: pd.DataFrame) -> None:
    # A tree from another day's correlations: the allocation must follow it, not recluster.
    old = build_tree(returns.iloc[:300].corr().to_numpy(), list(returns.columns))
    reused = optimize(returns, "hrp", tree=old)
    assert reused.attrs["result"].tree is old
    fresh = optimize(returns, "hrp")
    if old.leaf_order != fresh.attrs["result"].tree.leaf_order:
        assert not np.allclose(reused, fresh)


def test_a_tree_for_another_universe_is_refused(returns: pd.DataFrame) -> None:
    tree = build_tree(returns.iloc[:, :5].corr().to_numpy(), list(returns.columns[:5]))
    with pytest.raises(DataError, match="tree: labels"):
        optimize(returns, "hrp", tree=tree)


def test_unknown_convention_is_refused(returns: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="convention: got 'ward'"):
        build_tree(returns.corr().to_numpy(), list(returns.columns), "ward")  # type: ignore[arg-type]
