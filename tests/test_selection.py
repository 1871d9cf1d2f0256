"""The vectorised mutual-information estimate against scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import digamma
from sklearn.feature_selection import mutual_info_classif as sklearn_mi
from sklearn.neighbors import KDTree
from sklearn.preprocessing import scale

from benchmark.selection import mutual_info_classif, select_features


@pytest.fixture
def expression() -> tuple[np.ndarray, np.ndarray]:
    # Every class has more than 2k + 1 = 7 rows, so scikit-learn searches
    # neighbours with a KD-tree and its distances are exact.
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], [30, 12, 9])
    X = rng.normal(size=(len(y), 120))
    X[:, :10] += y[:, None] * 1.5
    return X, y


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_matches_sklearn(expression: tuple, seed: int) -> None:
    X, y = expression

    ours = mutual_info_classif(X, y, random_state=seed)
    reference = sklearn_mi(X, y, random_state=seed)

    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


def test_matches_sklearn_with_ties_and_constant_columns() -> None:
    rng = np.random.default_rng(5)
    y = np.repeat([0, 1], [25, 15])
    X = rng.integers(0, 3, size=(len(y), 20)).astype(float)
    X[:, 0] = 7.0

    ours = mutual_info_classif(X, y, random_state=0)
    reference = sklearn_mi(X, y, random_state=0)

    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


def kd_tree_reference(X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Ross's estimator with exact KD-tree distances for every class size."""
    rng = np.random.RandomState(seed)
    X = scale(X.astype(float), with_mean=False)
    X += 1e-10 * np.maximum(1, np.abs(X).mean(0)) * rng.standard_normal(X.shape)
    estimates = []
    for column in X.T:
        column = column.reshape(-1, 1)
        radius = np.empty(len(y))
        for label in np.unique(y):
            rows = y == label
            tree = KDTree(column[rows])
            distances, _ = tree.query(column[rows], k=4)
            radius[rows] = np.nextafter(distances[:, -1], 0)
        within = KDTree(column).query_radius(column, radius, count_only=True)
        counts = np.array([np.sum(y == label) for label in y])
        value = (
            digamma(len(y))
            + digamma(3)
            - digamma(counts).mean()
            - digamma(within).mean()
        )
        estimates.append(max(0.0, value))
    return np.array(estimates)


def test_small_classes_use_exact_distances() -> None:
    # scikit-learn switches to brute-force search for a class of at most
    # 2k + 1 rows, whose distances carry rounding error; ours stay exact.
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1], [30, 6])
    X = rng.normal(size=(len(y), 25))

    ours = mutual_info_classif(X, y, random_state=0)

    np.testing.assert_allclose(ours, kd_tree_reference(X, y, 0), rtol=0, atol=1e-12)


def test_matches_sklearn_with_single_member_class() -> None:
    rng = np.random.default_rng(9)
    y = np.array([0] * 20 + [1] * 10 + [2])
    X = rng.normal(size=(len(y), 15))

    ours = mutual_info_classif(X, y, random_state=0)
    reference = sklearn_mi(X, y, random_state=0)

    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


def test_matches_sklearn_with_more_neighbours() -> None:
    rng = np.random.default_rng(8)
    y = np.repeat([0, 1], [40, 20])
    X = rng.normal(size=(len(y), 30))

    ours = mutual_info_classif(X, y, n_neighbors=7, random_state=0)
    reference = sklearn_mi(X, y, n_neighbors=7, random_state=0)

    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)


def test_select_features_keeps_all_when_few(expression: tuple) -> None:
    X, y = expression

    selected = select_features(X[:, :20], y, 64, random_state=0)

    assert selected.tolist() == list(range(20))


def test_select_features_picks_informative_columns(expression: tuple) -> None:
    X, y = expression

    selected = select_features(X, y, 10, random_state=0)

    assert len(selected) == 10
    assert np.all(np.diff(selected) > 0)
    assert len(set(selected) & set(range(10))) >= 8
