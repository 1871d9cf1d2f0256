"""TorchMLPClassifier: fitting, probabilities, determinism and early stopping."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from plugins.mlp import TorchMLPClassifier, resolve_device

# A learning rate 100 times the default lets a few epochs reach a useful model.
FAST = {"learning_rate": 1e-2, "max_epochs": 15, "patience": 4, "device": "cpu"}


def fitted(X, y, **params):
    return TorchMLPClassifier(**{**FAST, "random_state": 0, **params}).fit(X, y)


@pytest.fixture
def validation_calls(monkeypatch):
    """Record every validation step of fit: its data, score and network weights."""
    calls = []
    validate = TorchMLPClassifier._validation_auc

    def recording_validation(network, X_val, y_val, n_classes, device):
        score = validate(network, X_val, y_val, n_classes, device)
        state = copy.deepcopy(network.state_dict())
        calls.append({"X": X_val, "y": y_val, "score": score, "state": state})
        return score

    monkeypatch.setattr(
        TorchMLPClassifier, "_validation_auc", staticmethod(recording_validation)
    )
    return calls


def test_binary_fit_and_predict(binary_arrays):
    X, y = binary_arrays

    model = fitted(X, y)
    predicted = model.predict(X)

    assert model.classes_.tolist() == [0, 1]
    assert predicted.shape == y.shape
    assert set(predicted.tolist()) <= {0, 1}
    assert np.mean(predicted == y) > 0.75


def test_predict_returns_original_labels(binary_arrays):
    X, y = binary_arrays
    labels = np.where(y == 1, "tumour", "normal")

    model = fitted(X, labels, max_epochs=3)

    assert model.classes_.tolist() == ["normal", "tumour"]
    assert set(model.predict(X).tolist()) <= {"normal", "tumour"}


def test_multiclass_fit_and_predict(multiclass_arrays):
    X, y = multiclass_arrays

    model = fitted(X, y)
    proba = model.predict_proba(X)

    assert proba.shape == (len(y), 3)
    assert model.predict(X).shape == y.shape
    assert np.mean(model.predict(X) == y) > 0.6


@pytest.mark.parametrize("arrays", ["binary_arrays", "multiclass_arrays"])
def test_predict_proba_rows_sum_to_one(request, arrays):
    X, y = request.getfixturevalue(arrays)

    proba = fitted(X, y, max_epochs=3).predict_proba(X)

    assert proba.dtype == np.float64
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(proba >= 0.0)


def test_same_random_state_same_probabilities(binary_arrays):
    X, y = binary_arrays

    first = fitted(X, y, random_state=3).predict_proba(X)
    second = fitted(X, y, random_state=3).predict_proba(X)

    assert np.array_equal(first, second)


def test_random_state_changes_probabilities(binary_arrays):
    X, y = binary_arrays

    first = fitted(X, y, random_state=3).predict_proba(X)
    second = fitted(X, y, random_state=4).predict_proba(X)

    assert not np.array_equal(first, second)


def test_clone_keeps_parameters():
    model = TorchMLPClassifier(hidden_units=8, max_epochs=2, random_state=1)

    assert clone(model).get_params() == model.get_params()


def test_early_stopping_validates_on_training_rows(binary_arrays, validation_calls):
    X, y = binary_arrays

    fitted(X, y)

    X_val = validation_calls[0]["X"]
    training_rows = {row.tobytes() for row in X.astype(np.float32)}
    assert len(X_val) == math.ceil(0.2 * len(X))
    assert all(row.tobytes() in training_rows for row in X_val)
    assert np.bincount(validation_calls[0]["y"]).tolist() == [18, 6]


def test_early_stopping_stops_after_patience(binary_arrays, validation_calls):
    X, y = binary_arrays

    model = fitted(X, y, max_epochs=60, patience=3)

    assert model.early_stopping_
    assert model.n_epochs_ < 60
    assert model.n_epochs_ == model.best_epoch_ + 3 + 1
    assert len(validation_calls) == model.n_epochs_


def test_early_stopping_records_best_epoch(binary_arrays, validation_calls):
    X, y = binary_arrays

    model = fitted(X, y, max_epochs=60, patience=3)

    scores = [call["score"] for call in validation_calls]
    assert model.best_validation_auc_ == max(scores)
    assert scores.index(max(scores)) == model.best_epoch_


def test_early_stopping_restores_best_weights(binary_arrays, validation_calls):
    X, y = binary_arrays

    model = fitted(X, y, max_epochs=60, patience=3)

    best_state = validation_calls[model.best_epoch_]["state"]
    final_state = model.network_.state_dict()
    assert best_state.keys() == final_state.keys()
    for name, tensor in final_state.items():
        assert torch.equal(tensor, best_state[name]), name


def test_restored_model_reproduces_best_validation_auc(binary_arrays, validation_calls):
    X, y = binary_arrays

    model = fitted(X, y, max_epochs=60, patience=3)

    X_val, y_val = validation_calls[0]["X"], validation_calls[0]["y"]
    recomputed = roc_auc_score(y_val, model.predict_proba(X_val)[:, 1])
    assert recomputed == model.best_validation_auc_


def test_single_row_class_trains_without_early_stopping(
    multiclass_arrays, validation_calls
):
    X, y = multiclass_arrays
    keep = np.r_[np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:1]]

    model = fitted(X[keep], y[keep], max_epochs=4)

    assert not model.early_stopping_
    assert model.n_epochs_ == 4
    assert model.best_epoch_ == 3
    assert math.isnan(model.best_validation_auc_)
    assert validation_calls == []
    assert model.predict_proba(X).shape == (len(X), 3)


def test_single_class_raises(binary_arrays):
    X, y = binary_arrays

    with pytest.raises(ValueError, match="needs at least two classes"):
        fitted(X, np.zeros_like(y))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_auto_device_is_cpu_without_cuda(binary_arrays):
    X, y = binary_arrays

    model = fitted(X, y, max_epochs=2, device="auto")

    assert model.device_ == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_request_without_cuda_raises():
    with pytest.raises(
        ValueError,
        match=r"device='cuda' was requested but torch finds no CUDA device\. "
        r"Use device='auto' or device='cpu'\.",
    ):
        resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_and_predict(binary_arrays):
    X, y = binary_arrays

    model = fitted(X, y, device="cuda")
    proba = model.predict_proba(X)

    assert model.device_.startswith("cuda")
    assert next(model.network_.parameters()).is_cuda
    assert proba.shape == (len(y), 2)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)
