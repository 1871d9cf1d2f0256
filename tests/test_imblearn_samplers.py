"""The built-in imbalanced-learn samplers, built through their registered factories."""

from __future__ import annotations

import numpy as np
import pytest

OVERSAMPLERS = (
    "random",
    "smote",
    "borderline-smote-1",
    "borderline-smote-2",
    "adasyn",
    "svm-smote",
    "kmeans-smote",
)
# ADASYN rounds the number of rows generated per minority row, and KMeans-SMOTE
# rounds each cluster's share up (imbalanced-learn 0.14), so both can miss
# balance by a few rows. The others generate exactly the requested count.
APPROXIMATE = {"adasyn", "kmeans-smote"}


def build(registry, name, random_state=0, **params):
    spec = registry.sampler(name)
    return spec.factory(random_state=random_state, **{**spec.params, **params})


def resample(registry, name, X, y, random_state=0):
    return build(registry, name, random_state).fit_resample(X, y)


@pytest.fixture(scope="module")
def binary_resampled(registry, binary_arrays):
    """Return a function that resamples ``binary_arrays`` once per sampler and seed.

    KMeans-SMOTE takes most of a second per call, so read-only checks share
    the outputs.
    """
    cache = {}

    def get(name, random_state=0):
        key = (name, random_state)
        if key not in cache:
            X, y = binary_arrays
            cache[key] = resample(registry, name, X, y, random_state)
        return cache[key]

    return get


@pytest.mark.parametrize("name", OVERSAMPLERS)
def test_sampler_balances_binary_classes(binary_resampled, name):
    _, y_resampled = binary_resampled(name)

    counts = np.bincount(y_resampled)
    if name in APPROXIMATE:
        assert counts[1] == pytest.approx(counts[0], rel=0.1)
    else:
        assert counts.tolist() == [90, 90]


@pytest.mark.parametrize("name", OVERSAMPLERS)
def test_sampler_keeps_majority_untouched(binary_resampled, name):
    _, y_resampled = binary_resampled(name)

    assert np.sum(y_resampled == 0) == 90


@pytest.mark.parametrize("name", OVERSAMPLERS)
def test_sampler_balances_three_classes(registry, multiclass_arrays, name):
    X, y = multiclass_arrays

    _, y_resampled = resample(registry, name, X, y)

    counts = np.bincount(y_resampled)
    if name in APPROXIMATE:
        assert counts[1:] == pytest.approx([60, 60], rel=0.1)
    else:
        assert counts.tolist() == [60, 60, 60]


@pytest.mark.parametrize("name", OVERSAMPLERS)
def test_sampler_keeps_original_rows_first(binary_arrays, binary_resampled, name):
    X, y = binary_arrays

    X_resampled, y_resampled = binary_resampled(name)

    assert np.array_equal(X_resampled[: len(X)], X)
    assert np.array_equal(y_resampled[: len(y)], y)


@pytest.mark.parametrize("name", OVERSAMPLERS)
def test_sampler_new_rows_are_minority(binary_arrays, binary_resampled, name):
    _, y = binary_arrays

    X_resampled, y_resampled = binary_resampled(name)

    assert np.all(y_resampled[len(y) :] == 1)
    assert np.isfinite(X_resampled).all()


@pytest.mark.parametrize("name", OVERSAMPLERS)
def test_sampler_is_reproducible(registry, binary_arrays, name):
    X, y = binary_arrays

    X_first, y_first = resample(registry, name, X, y, random_state=5)
    X_second, y_second = resample(registry, name, X, y, random_state=5)

    assert np.array_equal(X_first, X_second)
    assert np.array_equal(y_first, y_second)


@pytest.mark.parametrize("name", OVERSAMPLERS)
def test_sampler_depends_on_random_state(binary_resampled, name):
    X_first, _ = binary_resampled(name, random_state=5)
    X_second, _ = binary_resampled(name, random_state=6)

    assert not np.array_equal(X_first, X_second)


def test_none_returns_input_unchanged(registry, binary_arrays):
    X, y = binary_arrays

    X_resampled, y_resampled = resample(registry, "none", X, y)

    assert np.array_equal(X_resampled, X)
    assert np.array_equal(y_resampled, y)


def test_none_keeps_multiclass_counts(registry, multiclass_arrays):
    X, y = multiclass_arrays

    _, y_resampled = resample(registry, "none", X, y)

    assert np.bincount(y_resampled).tolist() == [60, 30, 15]


def test_builtin_samplers_declare_capabilities(registry):
    for name in ("none", *OVERSAMPLERS):
        spec = registry.sampler(name)
        assert spec.supports_multiclass, name
        assert not spec.uses_torch, name
        assert spec.needs_scaled_input, name


@pytest.mark.parametrize(
    ("name", "needed"),
    [
        ("smote", 6),
        ("borderline-smote-1", 6),
        ("borderline-smote-2", 6),
        ("adasyn", 6),
        ("svm-smote", 6),
        ("kmeans-smote", 3),
    ],
)
def test_min_class_size_is_neighbours_plus_one(registry, name, needed):
    spec = registry.sampler(name)

    assert spec.min_class_size(spec.params) == needed


def test_min_class_size_follows_user_neighbours(registry):
    spec = registry.sampler("smote")

    assert spec.min_class_size({**spec.params, "k_neighbors": 2}) == 3


def test_smote_fails_when_class_smaller_than_neighbours(registry, binary_arrays):
    X, y = binary_arrays
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:5]]

    with pytest.raises(ValueError, match="Expected n_neighbors <= n_samples_fit"):
        resample(registry, "smote", X[keep], y[keep])


def separated_minority(n_majority=100, n_minority=20):
    """A minority cloud far from the majority, so few minority rows are support
    vectors or share a cluster with the majority."""
    rng = np.random.default_rng(1)
    X = np.vstack(
        [
            rng.normal(0.0, 1.0, size=(n_majority, 4)),
            rng.normal(8.0, 1.0, size=(n_minority, 4)),
        ]
    )
    y = np.repeat([0, 1], [n_majority, n_minority])
    return X, y


def test_svm_smote_shortfall_on_separated_minority(registry):
    # SVM-SMOTE generates rows only around minority support vectors. With a
    # separated minority, imbalanced-learn 0.14 generates 32 of the 80 rows.
    X, y = separated_minority()

    _, y_resampled = resample(registry, "svm-smote", X, y)

    assert np.bincount(y_resampled).tolist() == [100, 52]


def test_kmeans_smote_fails_on_scattered_minority(registry):
    # Six minority rows spread over the majority leave no cluster in which the
    # minority is frequent enough, and imbalanced-learn raises.
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, size=(200, 4)), rng.normal(0, 3, size=(6, 4))])
    y = np.repeat([0, 1], [200, 6])

    with pytest.raises(
        RuntimeError, match="No clusters found with sufficient samples of class 1"
    ):
        resample(registry, "kmeans-smote", X, y)
