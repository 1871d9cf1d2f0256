"""The hand-written training step against autograd, early stopping and restore."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from leo_cvae_plugin._loss import cvae_loss
from leo_cvae_plugin._network import ConditionalVAE
from leo_cvae_plugin._training import (
    FlatAdam,
    FlatCVAE,
    NonFiniteLossError,
    TrainingSettings,
    latent_buffer,
    train_network,
)

N_FEATURES, N_CLASSES, HIDDEN, LATENT = 7, 3, 16, 4
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Tiny networks train several times faster on one thread than on two.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_model(seed: int = 0) -> ConditionalVAE:
    torch.manual_seed(seed)
    return ConditionalVAE(N_FEATURES, N_CLASSES, HIDDEN, LATENT)


def make_rows(n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, N_FEATURES, generator=generator)
    labels = torch.arange(n) % N_CLASSES
    onehot = torch.nn.functional.one_hot(labels, N_CLASSES).float()
    weights = torch.rand(n, generator=generator) + 0.5
    return torch.cat((x, onehot), dim=1), weights


def settings(**overrides) -> TrainingSettings:
    values = dict(
        epochs=6,
        batch_size=8,
        learning_rate=1e-2,
        weight_decay=1e-5,
        patience=100,
        beta=4.0,
        min_kl=0.1,
    )
    values.update(overrides)
    return TrainingSettings(**values)


def autograd_gradient(model, inputs, weights, beta, min_kl, seed):
    model.train()
    model.zero_grad()
    torch.manual_seed(seed)
    x, onehot = inputs[:, :N_FEATURES], inputs[:, N_FEATURES:]
    x_hat, mu, logvar = model(x, onehot)
    loss, _, _ = cvae_loss(x_hat, x, mu, logvar, weights, beta, min_kl)
    loss.backward()
    gradient_model = copy.deepcopy(model)
    with torch.no_grad():
        for target, source in zip(
            gradient_model.parameters(), model.parameters(), strict=True
        ):
            target.copy_(source.grad)
    # The flat layout of the gradients, for comparison with FlatCVAE.grad.
    return FlatCVAE(gradient_model, CPU, beta, min_kl).data, loss.item()


@pytest.mark.parametrize(
    "case", ["default", "kl_below_floor", "logvar_clamped", "single_row"]
)
def test_gradient_matches_autograd(case):
    model = make_model()
    inputs, weights = make_rows(1 if case == "single_row" else 12)
    min_kl = 1e6 if case == "kl_below_floor" else 0.1
    if case == "logvar_clamped":
        # The lower bound: the upper one makes z so large that float32
        # cancellation, not the clamp, dominates the comparison.
        with torch.no_grad():
            model.logvar_head.bias[:2] = -50.0

    flat = FlatCVAE(model, CPU, 4.0, min_kl)
    torch.manual_seed(9)
    stats = flat.compute_gradients(
        inputs, latent_buffer(inputs, N_FEATURES, LATENT), weights
    )
    expected, expected_loss = autograd_gradient(model, inputs, weights, 4.0, min_kl, 9)

    assert stats[0].item() == pytest.approx(expected_loss, rel=1e-6)
    torch.testing.assert_close(flat.grad, expected, rtol=1e-5, atol=1e-6)
    assert torch.count_nonzero(flat.grad) > 0


def test_evaluate_matches_module_in_eval_mode():
    model = make_model()
    inputs, weights = make_rows(10)
    flat = FlatCVAE(model, CPU, 4.0, 0.1)

    torch.manual_seed(3)
    stats = flat.evaluate(inputs, latent_buffer(inputs, N_FEATURES, LATENT), weights)
    model.eval()
    torch.manual_seed(3)
    with torch.no_grad():
        x = inputs[:, :N_FEATURES]
        x_hat, mu, logvar = model(x, inputs[:, N_FEATURES:])
        expected = torch.stack(cvae_loss(x_hat, x, mu, logvar, weights, 4.0, 0.1))

    torch.testing.assert_close(stats, expected, rtol=1e-6, atol=1e-6)


def test_clip_matches_clip_grad_norm():
    model = make_model()
    inputs, weights = make_rows(12)
    flat = FlatCVAE(model, CPU, 4.0, 0.1)
    torch.manual_seed(2)
    flat.compute_gradients(inputs, latent_buffer(inputs, N_FEATURES, LATENT), weights)
    flat.grad.mul_(100.0)  # make sure the norm exceeds 1
    reference = torch.nn.Parameter(torch.zeros_like(flat.grad))
    reference.grad = flat.grad.clone()
    norm_before = torch.linalg.vector_norm(reference.grad).item()

    flat.clip_gradient(1.0)
    torch.nn.utils.clip_grad_norm_([reference], 1.0)

    assert norm_before > 1.0
    assert torch.linalg.vector_norm(flat.grad).item() == pytest.approx(1.0, rel=1e-5)
    torch.testing.assert_close(flat.grad, reference.grad, rtol=1e-5, atol=1e-9)


def test_flat_adam_matches_torch_adam():
    generator = torch.Generator().manual_seed(4)
    parameter = torch.randn(50, generator=generator)
    reference = torch.nn.Parameter(parameter.clone())
    gradient = torch.zeros(50)
    ours = FlatAdam(parameter, gradient, learning_rate=1e-2, weight_decay=1e-3)
    adam = torch.optim.Adam([reference], lr=1e-2, weight_decay=1e-3)

    for _ in range(25):
        step_gradient = torch.randn(50, generator=generator)
        gradient.copy_(step_gradient)
        reference.grad = step_gradient.clone()
        ours.step()
        adam.step()

    torch.testing.assert_close(parameter, reference.detach(), rtol=1e-6, atol=1e-7)


def plain_training(model, train, val, run_settings, shuffle_seed):
    # The textbook loop with autograd, torch.optim.Adam and a deep-copied best
    # state, with the batch order of train_network.
    optimizer = torch.optim.Adam(
        model.parameters(),
        lr=run_settings.learning_rate,
        weight_decay=run_settings.weight_decay,
    )
    generator = torch.Generator().manual_seed(shuffle_seed)
    history = []
    best_loss, best_state = math.inf, None
    for _ in range(run_settings.epochs):
        model.train()
        permutation = torch.randperm(len(train[0]), generator=generator)
        total = 0.0
        for start in range(0, len(permutation), run_settings.batch_size):
            rows = permutation[start : start + run_settings.batch_size]
            inputs, weights = train[0][rows], train[1][rows]
            x, onehot = inputs[:, :N_FEATURES], inputs[:, N_FEATURES:]
            optimizer.zero_grad()
            x_hat, mu, logvar = model(x, onehot)
            loss = cvae_loss(
                x_hat, x, mu, logvar, weights, run_settings.beta, run_settings.min_kl
            )[0]
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(rows)
        model.eval()
        with torch.no_grad():
            x, onehot = val[0][:, :N_FEATURES], val[0][:, N_FEATURES:]
            x_hat, mu, logvar = model(x, onehot)
            val_loss = cvae_loss(
                x_hat, x, mu, logvar, val[1], run_settings.beta, run_settings.min_kl
            )[0]
        history.append([total / len(train[0]), val_loss.item()])
        if val_loss.item() < best_loss - 1e-4:
            best_loss = val_loss.item()
            best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return history


def test_train_network_matches_autograd_loop():
    train, val = make_rows(21, seed=1), make_rows(6, seed=2)
    run_settings = settings(epochs=5)

    fast_model = make_model()
    torch.manual_seed(17)
    result = train_network(
        fast_model, *train, *val, run_settings, torch.Generator().manual_seed(5)
    )
    plain_model = make_model()
    torch.manual_seed(17)
    expected = plain_training(plain_model, train, val, run_settings, shuffle_seed=5)

    got = [[row[0], row[3]] for row in result.history]
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    for name, tensor in plain_model.state_dict().items():
        torch.testing.assert_close(
            fast_model.state_dict()[name], tensor, rtol=1e-4, atol=1e-5
        )


def test_restored_weights_are_best_epoch_weights():
    train, val = make_rows(24, seed=1), make_rows(9, seed=2)

    model = make_model()
    torch.manual_seed(8)
    result = train_network(
        model,
        *train,
        *val,
        settings(epochs=80, patience=3, learning_rate=5e-2),
        torch.Generator().manual_seed(6),
    )
    # Training went on after the best epoch, so a restore that did nothing
    # would leave later weights in the model.
    assert result.best_epoch < len(result.history)

    # The same run cut at the best epoch ends with that epoch's weights.
    reference = make_model()
    torch.manual_seed(8)
    train_network(
        reference,
        *train,
        *val,
        settings(epochs=result.best_epoch, patience=10_000, learning_rate=5e-2),
        torch.Generator().manual_seed(6),
    )
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor, rtol=0, atol=0)


def test_early_stopping_after_patience():
    train, val = make_rows(24, seed=1), make_rows(9, seed=2)
    model = make_model()
    torch.manual_seed(8)

    result = train_network(
        model,
        *train,
        *val,
        settings(epochs=80, patience=3, learning_rate=5e-2),
        torch.Generator().manual_seed(6),
    )

    val_losses = [row[3] for row in result.history]
    best = result.best_epoch
    assert len(result.history) == best + 3
    assert all(loss >= val_losses[best - 1] - 1e-4 for loss in val_losses[best:])


def test_without_validation_runs_all_epochs():
    train = make_rows(20)
    model = make_model()

    result = train_network(
        model, *train, None, None, settings(epochs=7), torch.Generator().manual_seed(0)
    )

    assert len(result.history) == 7
    assert result.best_epoch == 7
    assert all(math.isnan(v) for row in result.history for v in row[3:])
    assert all(math.isfinite(v) for row in result.history for v in row[:3])


def test_non_finite_loss_names_epoch():
    inputs, weights = make_rows(16)
    inputs[:, :N_FEATURES] *= 1e20  # squared errors overflow float32
    model = make_model()

    with pytest.raises(NonFiniteLossError, match=r"training batch 1 of epoch 1"):
        train_network(model, inputs, weights, None, None, settings(), torch.Generator())
