"""Local Entropy Score: hand-computed neighbourhoods, ties, clamping and chunks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from leo_cvae_plugin import _entropy
from leo_cvae_plugin._entropy import local_entropy

# A centre and four points at distance 1, with their labels in an order where the
# tie rule decides the entropy, plus one far point equidistant from two of them.
CROSS_X = np.array(
    [[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [10.0, 10.0]]
)
CROSS_Y = np.array([0, 1, 0, 1, 0, 1])


def test_cross_ties_taken_in_row_order():
    entropy, k_used = local_entropy(CROSS_X, CROSS_Y, n_classes=2, k=2)

    # Row 0: rows 1..4 tie at distance 1, so rows 1 and 2 (labels 1, 0) are taken.
    # Rows 1..4: row 0, then the first of the two tied rows at squared distance 2.
    # Row 5: rows 1 and 3, both at squared distance 181 (labels 1, 1).
    assert k_used == 2
    np.testing.assert_array_equal(entropy, [1.0, 1.0, 1.0, 1.0, 1.0, 0.0])


def test_pure_neighbourhood_is_zero():
    X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    y = np.array([0, 0, 0, 1, 1, 1])

    entropy, _ = local_entropy(X, y, n_classes=2, k=2)

    np.testing.assert_array_equal(entropy, np.zeros(6))


def test_absent_class_contributes_zero():
    # n = 4 and k = 3, so the neighbours of each row are the 3 other rows.
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 1, 2, 2])

    entropy, k_used = local_entropy(X, y, n_classes=3, k=3)

    # Row 0 has neighbours of labels 1, 2, 2. Class 0 is absent and adds 0.
    two_thirds = -(1 / 3) * math.log2(1 / 3) - (2 / 3) * math.log2(2 / 3)
    assert k_used == 3
    np.testing.assert_allclose(
        entropy, [two_thirds, two_thirds, math.log2(3), math.log2(3)], rtol=1e-12
    )


def test_k_clamped_to_n_minus_one():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 1, 2, 2])

    entropy, k_used = local_entropy(X, y, n_classes=3, k=15)
    expected, _ = local_entropy(X, y, n_classes=3, k=3)

    assert k_used == 3
    np.testing.assert_array_equal(entropy, expected)


def test_k_larger_than_class_uses_all_classes():
    # The minority class has 2 rows, fewer than k = 4; neighbourhoods span classes.
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [10.0], [11.0]])
    y = np.array([0, 0, 0, 0, 0, 1, 1])

    entropy, k_used = local_entropy(X, y, n_classes=2, k=4)

    # Row 5 (x = 10): row 6 at 1, then rows 4, 3, 2 at 6, 7, 8 -> labels 1, 0, 0, 0.
    quarter = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))
    assert k_used == 4
    assert entropy[5] == pytest.approx(quarter)
    # Row 0 (x = 0): rows 1..4, all class 0.
    assert entropy[0] == 0.0


def test_duplicates_are_neighbours_self_excluded():
    X = np.array([[0.0], [0.0], [0.0], [5.0]])
    y = np.array([0, 1, 1, 0])

    entropy, _ = local_entropy(X, y, n_classes=2, k=2)

    # Row 0: its duplicates rows 1, 2 (labels 1, 1). Row 1: rows 0, 2. Row 2: rows
    # 0, 1. Row 3: rows 0, 1, 2 tie at 25, so rows 0 and 1 are taken.
    np.testing.assert_array_equal(entropy, [0.0, 1.0, 1.0, 1.0])


def test_entropy_bounded_by_log2_classes():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 4))
    y = rng.integers(0, 3, size=60)

    entropy, _ = local_entropy(X, y, n_classes=3, k=15)

    assert entropy.min() >= 0.0
    assert entropy.max() <= math.log2(3) + 1e-12


def test_matches_nearest_neighbors_without_ties():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(80, 6))
    y = rng.integers(0, 3, size=80)
    k = 7

    entropy, _ = local_entropy(X, y, n_classes=3, k=k)

    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)[1][:, 1:]
    counts = np.stack([(y[neighbours] == c).sum(axis=1) for c in range(3)], axis=1)
    p = counts / k
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1)
    np.testing.assert_allclose(entropy, expected, rtol=1e-12, atol=1e-12)


def test_chunked_equals_single_chunk(monkeypatch):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 3)).round(1)  # rounding creates ties
    y = rng.integers(0, 2, size=50)
    whole, _ = local_entropy(X, y, n_classes=2, k=5)

    monkeypatch.setattr(_entropy, "_DISTANCES_PER_CHUNK", 7 * 50)
    chunked, _ = local_entropy(X, y, n_classes=2, k=5)

    np.testing.assert_array_equal(chunked, whole)


def test_single_sample_rejected():
    with pytest.raises(ValueError, match="at least 2 samples"):
        local_entropy(np.zeros((1, 2)), np.array([0]), n_classes=1, k=3)
