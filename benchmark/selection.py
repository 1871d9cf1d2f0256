"""Mutual-information feature selection, vectorised over features.

:func:`sklearn.feature_selection.mutual_info_classif` estimates the mutual
information between each continuous feature and a class label with the
nearest-neighbour estimator of Ross (2014), fitting one tree per feature and
class. On expression data with thousands of genes that Python loop costs
about 5 ms per feature (61 s for 113 samples × 12,794 genes on one core).
The estimator is one-dimensional per feature, so neighbour distances can be
read off sorted columns instead. :func:`mutual_info_classif` here computes the
same estimate with the same preprocessing and random noise, for all features
at once, and agrees with scikit-learn's to 1e-12 in the tests.

NOTE: scikit-learn searches the neighbours of a class with at most
``2 * n_neighbors + 1`` rows by brute force, whose distances carry rounding
error of about 1e-16. A point at the boundary of a radius can then be counted
differently, so on such small classes the two estimates can differ by about
0.01 nats. The distances here are exact in every case.

References
----------
B. C. Ross, "Mutual Information between Discrete and Continuous Data Sets",
PLoS ONE 9(2), 2014.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma
from sklearn.preprocessing import scale
from sklearn.utils import check_random_state

__all__ = ["mutual_info_classif", "select_features"]


def mutual_info_classif(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_neighbors: int = 3,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Estimate the mutual information between each column of ``X`` and ``y``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Continuous features.
    y : array-like of shape (n_samples,)
        Class labels.
    n_neighbors : int, default=3
        Neighbours of the estimator, as in scikit-learn.
    random_state : int, RandomState instance or None
        Seeds the small noise added to break ties, drawn exactly as
        scikit-learn draws it.

    Returns
    -------
    numpy.ndarray of shape (n_features,)
        Non-negative estimates in nats.
    """
    X = np.array(X, dtype=np.float64)
    y = np.asarray(y)
    n_samples, n_features = X.shape
    rng = check_random_state(random_state)
    X = scale(X, with_mean=False, copy=False)
    means = np.maximum(1, np.mean(np.abs(X), axis=0))
    X += 1e-10 * means * rng.standard_normal(size=(n_samples, n_features))

    radius = np.empty_like(X)
    k_all = np.zeros(n_samples)
    label_counts = np.zeros(n_samples)
    for label in np.unique(y):
        rows = y == label
        count = int(rows.sum())
        label_counts[rows] = count
        if count > 1:
            k = min(n_neighbors, count - 1)
            k_all[rows] = k
            radius[rows] = np.nextafter(_kth_neighbour_distance(X[rows], k), 0)

    # Rows whose class has one member carry no information and are ignored.
    keep = label_counts > 1
    X, radius = X[keep], radius[keep]
    n_kept = int(keep.sum())
    within = _count_within(X, radius)
    mi = (
        digamma(n_kept)
        + np.mean(digamma(k_all[keep]))
        - np.mean(digamma(label_counts[keep]))
        - np.mean(digamma(within), axis=0)
    )
    return np.maximum(mi, 0.0)


def _kth_neighbour_distance(values: np.ndarray, k: int) -> np.ndarray:
    """Return, per row and column, the distance to the k-th nearest other row.

    In one dimension the k nearest neighbours of a value are among the k
    values on either side of it in sorted order.
    """
    n, d = values.shape
    order = np.argsort(values, axis=0, kind="stable")
    ordered = np.take_along_axis(values, order, axis=0)
    padded = np.full((n + 2 * k, d), np.nan)
    padded[k : k + n] = ordered
    candidates = np.empty((2 * k, n, d))
    for offset in range(1, k + 1):
        candidates[offset - 1] = ordered - padded[k - offset : k - offset + n]
        candidates[k + offset - 1] = padded[k + offset : k + offset + n] - ordered
    candidates = np.where(np.isnan(candidates), np.inf, candidates)
    kth_sorted = np.partition(candidates, k - 1, axis=0)[k - 1]
    kth = np.empty_like(kth_sorted)
    np.put_along_axis(kth, order, kth_sorted, axis=0)
    return kth


def _count_within(X: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Count, per row and column, the rows within ``radius`` (itself included)."""
    counts = np.empty(X.shape, dtype=np.int64)
    for j in range(X.shape[1]):
        counts[:, j] = _count_column(X[:, j], radius[:, j])
    return counts


def _count_column(column: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Count the values of ``column`` within ``radius`` of each value.

    A value v is within radius r of value u when ``(v - u) ** 2 <= r ** 2``,
    the comparison scikit-learn's KD-tree makes. A binary search on the sorted
    column finds the boundaries up to rounding, and a short scan moves each
    boundary until that exact comparison holds.
    """
    n = len(column)
    ordered = np.sort(column)
    limit = radius**2

    def inside(index: np.ndarray) -> np.ndarray:
        return (ordered[index] - column) ** 2 <= limit

    low = np.searchsorted(ordered, column - radius, side="left")
    high = np.searchsorted(ordered, column + radius, side="right")
    while True:
        grow = (low > 0) & inside(np.maximum(low - 1, 0))
        shrink = ~grow & (low < n) & ~inside(np.minimum(low, n - 1))
        if not (grow.any() or shrink.any()):
            break
        low = low - grow + shrink
    while True:
        grow = (high < n) & inside(np.minimum(high, n - 1))
        shrink = ~grow & (high > 0) & ~inside(np.maximum(high - 1, 0))
        if not (grow.any() or shrink.any()):
            break
        high = high + grow - shrink
    return high - low


def select_features(
    X: np.ndarray, y: np.ndarray, n_features: int, random_state: int
) -> np.ndarray:
    """Return the sorted column indices of the ``n_features`` highest-MI columns.

    All columns are kept when there are no more than ``n_features``. Ties in
    mutual information are broken by column order.
    """
    if X.shape[1] <= n_features:
        return np.arange(X.shape[1])
    scores = mutual_info_classif(X, y, random_state=random_state)
    best = np.argsort(-scores, kind="stable")[:n_features]
    return np.sort(best)
