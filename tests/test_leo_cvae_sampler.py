"""LEOCVAE.fit_resample: output layout, seeds, reproducibility and edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.pipeline import Pipeline
from scipy import sparse
from scipy.stats import chisquare
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from leo_cvae_plugin import LEOCVAE, NonFiniteLossError
from leo_cvae_plugin._sampler import draw_seeds, seed_probabilities

FAST = dict(epochs=4, batch_size=16, hidden_dim=16, latent_dim=4, k_neighbors=5)


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Tiny networks train several times faster on one thread than on two.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def imbalanced(sizes=(40, 12), n_features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack(
        [rng.normal(loc=i, size=(n, n_features)) for i, n in enumerate(sizes)]
    )
    y = np.repeat(np.arange(len(sizes)), sizes)
    order = rng.permutation(len(y))
    return X[order], y[order]


def check_output(X, y, X_out, y_out, expected_counts):
    # Real rows first and unchanged, synthetic rows finite and labelled as asked.
    assert np.array_equal(X_out[: len(X)], X)
    assert np.array_equal(y_out[: len(y)], y)
    assert np.isfinite(X_out).all()
    labels, counts = np.unique(y_out, return_counts=True)
    assert dict(zip(labels.tolist(), counts.tolist(), strict=True)) == expected_counts


def test_binary_output_balanced():
    X, y = imbalanced()
    sampler = LEOCVAE(random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 40, 1: 40})
    assert sampler.n_generated_ == {0: 0, 1: 28}
    assert np.all(y_out[len(y) :] == 1)


def test_multiclass_output_balanced():
    X, y = imbalanced(sizes=(30, 12, 7))
    sampler = LEOCVAE(random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 30, 1: 30, 2: 30})
    assert sampler.n_generated_ == {0: 0, 1: 18, 2: 23}
    # Synthetic rows are grouped by class in sampling_strategy_ order.
    np.testing.assert_array_equal(y_out[len(y) :], np.repeat([1, 2], [18, 23]))


def test_seeds_come_from_their_class():
    X, y = imbalanced(sizes=(30, 12, 7))
    sampler = LEOCVAE(random_state=0, **FAST)

    _, y_out = sampler.fit_resample(X, y)

    assert len(sampler.seed_indices_) == len(y_out) - len(y)
    np.testing.assert_array_equal(y[sampler.seed_indices_], y_out[len(y) :])


@pytest.mark.parametrize(
    "strategy, expected",
    [({1: 30}, {0: 40, 1: 30}), (0.5, {0: 40, 1: 20}), ("all", {0: 40, 1: 40})],
)
def test_sampling_strategy_honoured(strategy, expected):
    X, y = imbalanced()
    sampler = LEOCVAE(sampling_strategy=strategy, random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, expected)


def test_nothing_to_generate_skips_training():
    X, y = imbalanced(sizes=(20, 20))
    sampler = LEOCVAE(random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    assert np.array_equal(X_out, X)
    assert np.array_equal(y_out, y)
    assert sampler.history_.empty
    assert sampler.best_epoch_ == 0
    assert sampler.model_ is None
    assert sampler.n_generated_ == {0: 0, 1: 0}


def test_same_seed_same_output():
    X, y = imbalanced()

    first = LEOCVAE(random_state=7, **FAST).fit_resample(X, y)[0]
    second = LEOCVAE(random_state=7, **FAST).fit_resample(X, y)[0]
    other = LEOCVAE(random_state=8, **FAST).fit_resample(X, y)[0]

    assert np.array_equal(first, second)
    assert not np.array_equal(first[len(X) :], other[len(X) :])


def test_global_torch_rng_untouched():
    X, y = imbalanced()
    state = torch.random.get_rng_state()

    LEOCVAE(random_state=0, **FAST).fit_resample(X, y)

    assert torch.equal(torch.random.get_rng_state(), state)


def test_seed_probabilities_proportional():
    entropy = np.array([0.0, 0.25, 0.5, 1.0])

    probabilities = seed_probabilities(entropy, gamma=2.5, guided=True)

    expected = (1 + entropy) ** 2.5 / ((1 + entropy) ** 2.5).sum()
    np.testing.assert_allclose(probabilities, expected)
    np.testing.assert_allclose(
        seed_probabilities(entropy, gamma=2.5, guided=False), np.full(4, 0.25)
    )


def test_seed_probabilities_finite_for_huge_gamma():
    entropy = np.array([0.0, 0.5, 1.0, 1.0])

    probabilities = seed_probabilities(entropy, gamma=5000.0, guided=True)

    assert np.isfinite(probabilities).all()
    assert probabilities.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(probabilities[2:], [0.5, 0.5])


@pytest.mark.parametrize("guided", [True, False])
def test_seed_draws_pass_chi_square(guided):
    entropy = np.array([0.0, 0.1, 0.4, 0.7, 1.0, 0.0])
    rows = np.array([3, 8, 9, 15, 20, 31])
    rng = np.random.default_rng(2024)
    n_draws = 60_000

    seeds = draw_seeds(rows, entropy, n_draws, 2.5, guided, rng)

    observed = np.array([(seeds == row).sum() for row in rows])
    expected = seed_probabilities(entropy, 2.5, guided) * n_draws
    assert observed.sum() == n_draws
    assert chisquare(observed, expected).pvalue > 1e-3


def test_estimator_seed_frequencies_follow_entropy():
    X, y = imbalanced(sizes=(40, 12))
    n_new = 20_000
    sampler = LEOCVAE(
        sampling_strategy={1: 12 + n_new}, random_state=3, **{**FAST, "epochs": 1}
    )

    sampler.fit_resample(X, y)

    minority = np.flatnonzero(y == 1)
    observed = np.array([(sampler.seed_indices_ == row).sum() for row in minority])
    weights = (1 + sampler.local_entropy_[minority]) ** sampler.gamma
    expected = weights / weights.sum() * n_new
    assert sampler.local_entropy_[minority].std() > 0
    assert chisquare(observed, expected).pvalue > 1e-3


def test_prior_generation_has_no_seeds():
    X, y = imbalanced()
    sampler = LEOCVAE(generation="prior", random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 40, 1: 40})
    assert sampler.seed_indices_ is None


def test_fitted_attributes():
    X, y = imbalanced()
    sampler = LEOCVAE(random_state=0, **FAST)

    sampler.fit_resample(X, y)

    assert list(sampler.history_.columns) == [
        "train_loss",
        "train_reconstruction",
        "train_kl",
        "val_loss",
        "val_reconstruction",
        "val_kl",
    ]
    assert sampler.history_.index[0] == 1
    assert 1 <= sampler.best_epoch_ <= len(sampler.history_)
    assert sampler.local_entropy_.shape == (len(y),)
    assert sampler.validation_size_ == 11  # ceil(0.2 * 52)
    assert sampler.device_ == "cpu"
    assert sampler.n_features_in_ == 5
    assert sampler.k_neighbors_ == 5
    assert isinstance(sampler.kl_collapsed_, bool)
    assert next(sampler.model_.parameters()).device.type == "cpu"


def test_kl_collapse_flagged_at_floor():
    X, y = imbalanced()

    collapsed = LEOCVAE(min_kl=1e6, random_state=0, **FAST)
    collapsed.fit_resample(X, y)
    healthy = LEOCVAE(min_kl=0.0, random_state=0, **FAST)
    healthy.fit_resample(X, y)

    assert collapsed.kl_collapsed_ is True
    assert healthy.kl_collapsed_ is False


def test_class_missing_from_fold():
    # Labels 0 and 5 only, as strings would be in a fold that lost a class.
    X, y = imbalanced()
    labels = np.where(y == 0, "censored", "relapse")
    sampler = LEOCVAE(random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, labels)

    check_output(X, labels, X_out, y_out, {"censored": 40, "relapse": 40})
    assert list(sampler.classes_) == ["censored", "relapse"]


def test_non_contiguous_integer_labels():
    X, y = imbalanced(sizes=(30, 10, 6))
    labels = np.array([0, 2, 7])[y]

    X_out, y_out = LEOCVAE(random_state=0, **FAST).fit_resample(X, labels)

    check_output(X, labels, X_out, y_out, {0: 30, 2: 30, 7: 30})


def test_class_smaller_than_k_plus_one():
    X, y = imbalanced(sizes=(40, 5))
    sampler = LEOCVAE(random_state=0, **{**FAST, "k_neighbors": 15})

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 40, 1: 40})
    assert sampler.k_neighbors_ == 15


def test_k_clamped_to_sample_count():
    X, y = imbalanced(sizes=(7, 3))
    sampler = LEOCVAE(random_state=0, **{**FAST, "k_neighbors": 15})

    sampler.fit_resample(X, y)

    assert sampler.k_neighbors_ == 9


def test_single_row_minority_trains_without_validation():
    X, y = imbalanced(sizes=(20, 1))
    sampler = LEOCVAE(random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 20, 1: 20})
    assert sampler.validation_size_ == 0
    assert len(sampler.history_) == FAST["epochs"]
    assert sampler.best_epoch_ == FAST["epochs"]
    assert sampler.history_["val_loss"].isna().all()
    assert set(sampler.seed_indices_) == {int(np.flatnonzero(y == 1)[0])}


def test_two_row_minority_keeps_validation():
    X, y = imbalanced(sizes=(28, 2))
    sampler = LEOCVAE(random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 28, 1: 28})
    assert sampler.validation_size_ == 6


def test_validation_fraction_zero_disables_early_stopping():
    X, y = imbalanced()
    sampler = LEOCVAE(validation_fraction=0.0, random_state=0, **FAST)

    sampler.fit_resample(X, y)

    assert sampler.validation_size_ == 0
    assert len(sampler.history_) == FAST["epochs"]


def test_constant_features():
    X, y = imbalanced()
    X[:, 0] = 0.0
    X[:, 3] = 2.5

    X_out, y_out = LEOCVAE(random_state=0, **FAST).fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 40, 1: 40})


def test_duplicated_rows():
    X, y = imbalanced(sizes=(20, 6))
    X = np.vstack([X, X, X])
    y = np.concatenate([y, y, y])

    X_out, y_out = LEOCVAE(random_state=0, **FAST).fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 60, 1: 60})


def test_all_rows_identical():
    X = np.ones((30, 4))
    y = np.repeat([0, 1], [24, 6])
    sampler = LEOCVAE(random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 24, 1: 24})
    # All distances are 0, so every row's neighbours are the first k other rows,
    # which are all of class 0.
    np.testing.assert_array_equal(sampler.local_entropy_, np.zeros(30))


def test_far_more_features_than_rows():
    X, y = imbalanced(sizes=(14, 5), n_features=400)

    X_out, y_out = LEOCVAE(random_state=0, **FAST).fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 14, 1: 14})


def test_non_finite_loss_raises():
    X, y = imbalanced()

    with pytest.raises(NonFiniteLossError, match=r"epoch 1\b.*Standardise"):
        LEOCVAE(random_state=0, **FAST).fit_resample(X * 1e20, y)


def test_gamma_overflowing_float32_rejected():
    X, y = imbalanced()

    with pytest.raises(ValueError, match=r"^gamma=200 gives reconstruction weights"):
        LEOCVAE(random_state=0, gamma=200, **FAST).fit_resample(X, y)


def test_non_finite_loss_names_large_gamma():
    X, y = imbalanced()

    with pytest.raises(NonFiniteLossError, match=r"Standardise.*gamma=60"):
        LEOCVAE(random_state=0, gamma=60, **FAST).fit_resample(X * 1e10, y)


def test_huge_gamma_without_weighted_loss_draws_seeds():
    X, y = imbalanced()
    sampler = LEOCVAE(random_state=0, gamma=2000, entropy_weighted_loss=False, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 40, 1: 40})


def test_decoded_values_beyond_float16_rejected():
    X, y = imbalanced()
    X16 = (X * 6e4 / np.abs(X).max()).astype(np.float16)

    with pytest.raises(FloatingPointError, match="dtype float16"):
        LEOCVAE(random_state=0, learning_rate=1.0, **FAST).fit_resample(X16, y)


def test_values_beyond_float32_rejected():
    X, y = imbalanced()
    X[0, 0] = 1e300

    with pytest.raises(ValueError, match="float32 range"):
        LEOCVAE(random_state=0, **FAST).fit_resample(X, y)


def test_dtypes_and_dataframe():
    X, y = imbalanced()
    frame = pd.DataFrame(X, columns=[f"gene{i}" for i in range(5)])

    X_frame, _ = LEOCVAE(random_state=0, **FAST).fit_resample(frame, y)
    X_32, _ = LEOCVAE(random_state=0, **FAST).fit_resample(X.astype(np.float32), y)
    X_int, _ = LEOCVAE(random_state=0, **FAST).fit_resample(X.round().astype(int), y)

    assert list(X_frame.columns) == list(frame.columns)
    assert X_32.dtype == np.float32
    assert X_int.dtype == np.float64
    assert np.array_equal(X_int[: len(X)], X.round())


def test_sparse_input_rejected():
    X, y = imbalanced()

    with pytest.raises(TypeError, match="dense"):
        LEOCVAE(**FAST).fit_resample(sparse.csr_matrix(X), y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden_dim": 1}, "hidden_dim"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"generation": "posterior"}, "generation"),
        ({"gamma": -1.0}, "gamma"),
    ],
)
def test_invalid_parameters_rejected(params, message):
    X, y = imbalanced()

    with pytest.raises(InvalidParameterError, match=message):
        LEOCVAE(**{**FAST, **params}).fit_resample(X, y)


def test_unknown_device_rejected():
    X, y = imbalanced()

    with pytest.raises(ValueError, match="not a valid torch device"):
        LEOCVAE(device="gpu0", **FAST).fit_resample(X, y)


@pytest.mark.parametrize("device", ["meta", "mps"])
def test_unsupported_device_type_rejected(device):
    X, y = imbalanced()

    with pytest.raises(ValueError, match=f"device='{device}' is not supported"):
        LEOCVAE(device=device, **FAST).fit_resample(X, y)


def test_cuda_without_gpu_rejected(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = imbalanced()

    with pytest.raises(ValueError, match="torch.cuda.is_available"):
        LEOCVAE(device="cuda", **FAST).fit_resample(X, y)


def test_auto_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = imbalanced()
    sampler = LEOCVAE(device="auto", random_state=0, **FAST)

    sampler.fit_resample(X, y)

    assert sampler.device_ == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training():
    X, y = imbalanced(sizes=(30, 12, 7))
    sampler = LEOCVAE(device="cuda", random_state=0, **FAST)

    X_out, y_out = sampler.fit_resample(X, y)

    check_output(X, y, X_out, y_out, {0: 30, 1: 30, 2: 30})
    assert sampler.device_.startswith("cuda")
    assert next(sampler.model_.parameters()).device.type == "cpu"


def test_clone_and_pipeline():
    X, y = imbalanced()
    sampler = LEOCVAE(random_state=0, **FAST)
    pipeline = Pipeline(
        [("oversample", clone(sampler)), ("model", LogisticRegression())]
    )

    pipeline.fit(X, y)

    assert clone(sampler).get_params() == sampler.get_params()
    assert pipeline.predict(X).shape == (len(y),)
