"""LEWL loss and weights on hand-computed tensors, and the log-variance clamp."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from leo_cvae_plugin._loss import balanced_class_weights, cvae_loss, sample_weights
from leo_cvae_plugin._network import LOGVAR_MAX, LOGVAR_MIN, ConditionalVAE


def hand_tensors():
    # Row 0: r = (2 - 1)^2 + (0 - 2)^2 = 5. Row 1: r = 1 + 1 = 2.
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    x_hat = torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    # Row 0: KL 0. Row 1: -0.5 * ((1 + 0 - 1 - 1) + (1 + ln 2 - 0 - 2)) = 1 - ln(2) / 2.
    mu = torch.tensor([[0.0, 0.0], [1.0, 0.0]], requires_grad=True)
    logvar = torch.tensor([[0.0, 0.0], [0.0, math.log(2.0)]], requires_grad=True)
    weights = torch.tensor([2.0, 0.5])
    return x_hat, x, mu, logvar, weights


KL_MEAN = (1.0 - math.log(2.0) / 2.0) / 2.0
RECONSTRUCTION = (2.0 * 5.0 + 0.5 * 2.0) / 2.0


def test_loss_hand_computed():
    loss, reconstruction, kl = cvae_loss(*hand_tensors(), beta=4.0, min_kl=0.1)

    assert reconstruction.item() == pytest.approx(RECONSTRUCTION)
    assert kl.item() == pytest.approx(KL_MEAN)
    assert loss.item() == pytest.approx(RECONSTRUCTION + 4.0 * KL_MEAN)


def test_kl_floor_sets_value_and_stops_gradient():
    x_hat, x, mu, logvar, weights = hand_tensors()

    loss, _, kl = cvae_loss(x_hat, x, mu, logvar, weights, beta=4.0, min_kl=1.0)
    loss.backward()

    assert kl.item() == pytest.approx(KL_MEAN)
    assert loss.item() == pytest.approx(RECONSTRUCTION + 4.0 * 1.0)
    assert torch.count_nonzero(mu.grad) == 0
    assert torch.count_nonzero(logvar.grad) == 0


def test_kl_gradient_above_floor():
    x_hat, x, mu, logvar, weights = hand_tensors()

    loss, _, _ = cvae_loss(x_hat, x, mu, logvar, weights, beta=4.0, min_kl=0.1)
    loss.backward()

    # d(beta * mean KL)/dmu = beta * mu / B and
    # d(beta * mean KL)/dlogvar = beta * (exp(logvar) - 1) / (2 B), with B = 2.
    torch.testing.assert_close(mu.grad, 4.0 * mu.detach() / 2)
    torch.testing.assert_close(logvar.grad, 4.0 * (logvar.detach().exp() - 1.0) / 4.0)


def test_class_weights_with_missing_class():
    # Codes 0 and 2 present, code 1 missing: C = 2 present classes, N = 4.
    y_codes = np.array([0, 0, 0, 2])

    weights = balanced_class_weights(y_codes, n_classes=3)

    np.testing.assert_allclose(weights, [4 / (2 * 3), 0.0, 4 / (2 * 1)])


def test_sample_weights_hand_computed():
    y_codes = np.array([0, 0, 0, 2])
    entropy = np.array([0.0, 1.0, 0.0, 1.0])

    weights = sample_weights(y_codes, entropy, 3, gamma=2.0, entropy_weighted=True)

    np.testing.assert_allclose(weights, [2 / 3, 2 / 3 * 4, 2 / 3, 2.0 * 4])


def test_plain_loss_weights_are_one():
    weights = sample_weights(
        np.array([0, 1, 1]), np.array([0.5, 1.0, 0.0]), 2, 2.5, entropy_weighted=False
    )

    np.testing.assert_array_equal(weights, np.ones(3))


@pytest.mark.parametrize("bias, bound", [(1e4, LOGVAR_MAX), (-1e4, LOGVAR_MIN)])
def test_logvar_clamped_so_exp_is_finite(bias, bound):
    torch.manual_seed(0)
    model = ConditionalVAE(n_features=3, n_classes=2, hidden_dim=8, latent_dim=2)
    with torch.no_grad():
        model.logvar_head.bias.fill_(bias)
    x = torch.randn(4, 3)
    onehot = torch.eye(2)[[0, 1, 0, 1]]

    model.train()
    x_hat, mu, logvar = model(x, onehot)
    loss, _, kl = cvae_loss(x_hat, x, mu, logvar, torch.ones(4), 4.0, 0.1)

    assert torch.all(logvar == bound)
    assert torch.isfinite(logvar.exp()).all()
    assert torch.isfinite(x_hat).all()
    assert math.isfinite(loss.item())
    assert math.isfinite(kl.item())
