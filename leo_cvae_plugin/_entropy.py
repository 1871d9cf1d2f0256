"""The Local Entropy Score: class entropy of each sample's k nearest neighbours."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import entr

__all__ = ["local_entropy"]

# Upper bound on the number of pairwise distances held in memory at once
# (2**22 float64 values, 32 MiB).
_DISTANCES_PER_CHUNK = 2**22


def local_entropy(
    X: np.ndarray, y_codes: np.ndarray, n_classes: int, k: int
) -> tuple[np.ndarray, int]:
    """Compute ``H_i = -sum_j p_j log2 p_j`` over the k nearest neighbours of each row.

    ``p_j`` is the fraction of the neighbours of row ``i`` that belong to class
    ``j``. A class absent from the neighbourhood contributes 0. Neighbours are
    found by Euclidean distance among all rows of ``X``, with these rules:

    - Row ``i`` itself is excluded by position. An exact duplicate of it is a
      neighbour at distance 0.
    - Ties are broken by row order: among equally distant rows, the one that
      comes first in ``X`` is taken.
    - ``k`` is clamped to ``n_samples - 1``, so every neighbourhood has the same
      size. A class with fewer than ``k`` rows needs no special case, because
      neighbourhoods span all classes.

    Distances are computed exactly per pair (``scipy.spatial.distance.cdist``),
    so rows at mathematically equal distances tie exactly when the differences
    are exactly representable.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y_codes : ndarray of shape (n_samples,)
        Class codes in ``0 .. n_classes - 1``.
    n_classes : int
    k : int
        Requested number of neighbours, at least 1.

    Returns
    -------
    entropy : ndarray of shape (n_samples,)
        Local entropy in bits, between 0 and ``log2(min(k, n_classes))``.
    k_used : int
        The number of neighbours actually used.
    """
    n_samples = X.shape[0]
    if n_samples < 2:
        raise ValueError(
            f"local entropy needs at least 2 samples to find neighbours, got "
            f"{n_samples}."
        )
    k_used = min(k, n_samples - 1)
    entropy = np.empty(n_samples)
    rows_per_chunk = max(1, _DISTANCES_PER_CHUNK // n_samples)

    for start in range(0, n_samples, rows_per_chunk):
        stop = min(n_samples, start + rows_per_chunk)
        distances = cdist(X[start:stop], X, metric="sqeuclidean")
        distances[np.arange(stop - start), np.arange(start, stop)] = np.inf
        # A stable sort keeps equal distances in row order, which is the tie rule.
        neighbours = np.argsort(distances, axis=1, kind="stable")[:, :k_used]

        labels = y_codes[neighbours]
        row_offsets = np.arange(stop - start)[:, None] * n_classes
        counts = np.bincount(
            (labels + row_offsets).ravel(), minlength=(stop - start) * n_classes
        ).reshape(stop - start, n_classes)
        proportions = counts / k_used
        entropy[start:stop] = entr(proportions).sum(axis=1) / np.log(2.0)

    return entropy, k_used
