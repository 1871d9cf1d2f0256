"""The NumPy training engine against autograd, early stopping and restore."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from leo_cvae_plugin import _numpy_engine
from leo_cvae_plugin._loss import cvae_loss
from leo_cvae_plugin._network import DROPOUT, ConditionalVAE
from leo_cvae_plugin._numpy_engine import (
    DropoutNoise,
    EpochNoise,
    FusedAdam,
    ModuleOrderNoise,
    NumpyAdam,
    NumpyCVAE,
    NumpyTrainer,
    make_adam,
)
from leo_cvae_plugin._training import (
    MAX_GRAD_NORM,
    NonFiniteLossError,
    TrainingSettings,
    batch_sizes_of,
    train_network,
)

N_FEATURES, N_CLASSES, HIDDEN, LATENT = 7, 3, 16, 4
ENGINES = ["numpy", "autograd"]


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


def flat_layout(model: ConditionalVAE) -> np.ndarray:
    """Return the module's parameters in the flat layout of NumpyCVAE.data."""
    return NumpyCVAE(model, 4.0, 0.1).data.copy()


def one_batch_trainer(model, inputs, weights, val=None, **overrides):
    run_settings = settings(batch_size=len(inputs), **overrides)
    return NumpyTrainer(
        model,
        inputs,
        weights,
        *(val or (None, None)),
        run_settings,
        [len(inputs)],
        ModuleOrderNoise(),
        MAX_GRAD_NORM,
    )


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
    return flat_layout(gradient_model), loss.item()


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

    trainer = one_batch_trainer(model, inputs, weights, min_kl=min_kl)
    torch.manual_seed(9)
    trainer.prepare_epoch(torch.arange(len(inputs)))
    batch = trainer.passes[0]
    stats = trainer.network.forward(batch, training=True)
    trainer.network.backward(batch, stats[2])
    expected, expected_loss = autograd_gradient(model, inputs, weights, 4.0, min_kl, 9)

    assert stats[0] == pytest.approx(expected_loss, rel=1e-5)
    np.testing.assert_allclose(trainer.network.grad, expected, rtol=1e-5, atol=1e-6)
    assert np.count_nonzero(trainer.network.grad) > 0
    assert batch.any_clamped == (case == "logvar_clamped")


def test_validation_loss_matches_module_in_eval_mode():
    model = make_model()
    train, val = make_rows(8, seed=1), make_rows(10, seed=2)
    trainer = one_batch_trainer(model, *train, val=val)
    trainer.prepare_epoch(torch.arange(8))
    torch.manual_seed(3)
    trainer.noise.val_eps[...] = torch.randn(10, LATENT).numpy()

    stats = trainer.network.forward(trainer.val_pass, training=False)
    model.eval()
    torch.manual_seed(3)
    with torch.no_grad():
        x = val[0][:, :N_FEATURES]
        x_hat, mu, logvar = model(x, val[0][:, N_FEATURES:])
        expected = [t.item() for t in cvae_loss(x_hat, x, mu, logvar, val[1], 4.0, 0.1)]

    np.testing.assert_allclose(stats, expected, rtol=1e-6, atol=1e-6)


def test_load_store_round_trip():
    model = make_model()
    network = NumpyCVAE(model, 4.0, 0.1)
    original = copy.deepcopy(model.state_dict())
    network.data += 1.0

    network.store()

    for name, tensor in original.items():
        torch.testing.assert_close(model.state_dict()[name], tensor + 1.0)


def test_clip_matches_clip_grad_norm():
    network = NumpyCVAE(make_model(), 4.0, 0.1)
    rng = np.random.default_rng(2)
    network.grad[:] = rng.normal(size=network.grad.shape) * 100.0
    reference = torch.nn.Parameter(torch.zeros(len(network.grad)))
    reference.grad = torch.from_numpy(network.grad.copy())
    norm_before = float(np.linalg.norm(network.grad))

    network.clip_gradient(1.0)
    torch.nn.utils.clip_grad_norm_([reference], 1.0)

    assert norm_before > 1.0
    assert float(np.linalg.norm(network.grad)) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(network.grad, reference.grad.numpy(), rtol=1e-5)


def test_clip_leaves_small_gradient_unchanged():
    network = NumpyCVAE(make_model(), 4.0, 0.1)
    network.grad[:3] = [0.1, -0.2, 0.3]
    before = network.grad.copy()

    network.clip_gradient(1.0)

    np.testing.assert_array_equal(network.grad, before)


@pytest.mark.parametrize("adam_class", [NumpyAdam, FusedAdam])
def test_adam_matches_torch_adam(adam_class):
    if adam_class is FusedAdam and not _numpy_engine.fused_adam_available():
        pytest.skip("this torch build has no fused Adam kernel for the CPU")
    rng = np.random.default_rng(4)
    parameter = rng.normal(size=50).astype(np.float32)
    reference = torch.nn.Parameter(torch.from_numpy(parameter.copy()))
    gradient = np.zeros(50, dtype=np.float32)
    ours = adam_class(parameter, gradient, learning_rate=1e-2, weight_decay=1e-3)
    adam = torch.optim.Adam([reference], lr=1e-2, weight_decay=1e-3)

    for _ in range(25):
        step_gradient = rng.normal(size=50).astype(np.float32)
        gradient[:] = step_gradient
        reference.grad = torch.from_numpy(step_gradient.copy())
        ours.step()
        adam.step()

    assert ours.step_count == 25
    np.testing.assert_allclose(
        parameter, reference.detach().numpy(), rtol=1e-6, atol=1e-7
    )


def test_make_adam_falls_back_without_fused_kernel(monkeypatch):
    monkeypatch.setattr(_numpy_engine, "fused_adam_available", lambda: False)
    arrays = np.zeros(4, dtype=np.float32), np.zeros(4, dtype=np.float32)

    assert isinstance(make_adam(*arrays, 1e-3, 0.0), NumpyAdam)


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


@pytest.mark.parametrize("engine", ENGINES)
def test_train_network_matches_autograd_loop(engine):
    # 21 rows in batches of 8: the last batch has 5 rows.
    train, val = make_rows(21, seed=1), make_rows(6, seed=2)
    run_settings = settings(epochs=5)

    fast_model = make_model()
    torch.manual_seed(17)
    noise = ModuleOrderNoise() if engine == "numpy" else None
    result = train_network(
        fast_model,
        *train,
        *val,
        run_settings,
        torch.Generator().manual_seed(5),
        noise=noise,
        engine=engine,
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


@pytest.mark.parametrize("engine", ENGINES)
def test_restored_weights_are_best_epoch_weights(engine):
    train, val = make_rows(24, seed=1), make_rows(9, seed=2)

    model = make_model()
    torch.manual_seed(8)
    result = train_network(
        model,
        *train,
        *val,
        settings(epochs=80, patience=3, learning_rate=5e-2),
        torch.Generator().manual_seed(6),
        engine=engine,
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
        engine=engine,
    )
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor, rtol=0, atol=0)


@pytest.mark.parametrize("engine", ENGINES)
def test_early_stopping_after_patience(engine):
    train, val = make_rows(24, seed=1), make_rows(9, seed=2)
    model = make_model()
    torch.manual_seed(8)

    result = train_network(
        model,
        *train,
        *val,
        settings(epochs=80, patience=3, learning_rate=5e-2),
        torch.Generator().manual_seed(6),
        engine=engine,
    )

    val_losses = [row[3] for row in result.history]
    best = result.best_epoch
    assert len(result.history) == best + 3
    assert all(loss >= val_losses[best - 1] - 1e-4 for loss in val_losses[best:])


@pytest.mark.parametrize("engine", ENGINES)
def test_without_validation_runs_all_epochs(engine):
    train = make_rows(20)
    model = make_model()

    result = train_network(
        model,
        *train,
        None,
        None,
        settings(epochs=7),
        torch.Generator().manual_seed(0),
        engine=engine,
    )

    assert len(result.history) == 7
    assert result.best_epoch == 7
    assert all(math.isnan(v) for row in result.history for v in row[3:])
    assert all(math.isfinite(v) for row in result.history for v in row[:3])


@pytest.mark.parametrize("engine", ENGINES)
def test_non_finite_loss_names_epoch(engine):
    inputs, weights = make_rows(16)
    inputs[:, :N_FEATURES] *= 1e20  # squared errors overflow float32
    model = make_model()

    with pytest.raises(NonFiniteLossError, match=r"training batch 1 of epoch 1"):
        train_network(
            model,
            inputs,
            weights,
            None,
            None,
            settings(),
            torch.Generator(),
            engine=engine,
        )


def test_same_seed_same_weights_different_seed_different():
    train = make_rows(20)

    def trained_weights(seed):
        model = make_model()
        torch.manual_seed(seed)
        train_network(
            model, *train, None, None, settings(), torch.Generator().manual_seed(1)
        )
        return flat_layout(model)

    np.testing.assert_array_equal(trained_weights(3), trained_weights(3))
    assert not np.array_equal(trained_weights(3), trained_weights(4))


def test_numpy_engine_rejects_non_cpu_inputs():
    inputs = torch.empty(4, N_FEATURES + N_CLASSES, device="meta")
    weights = torch.empty(4, device="meta")

    with pytest.raises(ValueError, match="engine='autograd'"):
        train_network(
            make_model(),
            inputs,
            weights,
            None,
            None,
            settings(),
            torch.Generator(),
            engine="numpy",
        )


def test_unknown_engine_is_rejected():
    with pytest.raises(ValueError, match="Invalid engine='jax'"):
        train_network(
            make_model(),
            *make_rows(4),
            None,
            None,
            settings(),
            torch.Generator(),
            engine="jax",
        )


def test_batch_sizes_cover_all_rows():
    assert batch_sizes_of(21, 8) == [8, 8, 5]
    assert batch_sizes_of(16, 8) == [8, 8]
    assert batch_sizes_of(3, 32) == [3]


def test_dropout_noise_keep_rate_and_eps_distribution():
    noise = EpochNoise((64, 32, 32, 64), 16, [32] * 50, n_val=100)
    DropoutNoise(0).fill(noise)

    # 307,200 Bernoulli(0.9) draws: the standard error of the rate is 5.4e-4.
    keep_rate = noise.keep_flat.mean()
    assert abs(keep_rate - (1 - DROPOUT)) < 4 * 5.4e-4
    # 27,200 standard normal draws.
    assert abs(noise.eps_flat.mean()) < 4 / math.sqrt(noise.eps_flat.size)
    assert noise.eps_flat.std() == pytest.approx(1.0, abs=0.02)
    # The views cover the flat arrays.
    assert noise.keep[1][2].shape == (32, 32)
    assert noise.eps[0].shape == (32, 16)
    assert noise.val_eps.shape == (100, 16)


def test_dropout_noise_seeds():
    def draws(seed):
        noise = EpochNoise((8, 4, 4, 8), 2, [5, 5], n_val=3)
        DropoutNoise(seed).fill(noise)
        return noise.keep_flat.copy(), noise.eps_flat.copy()

    first, again, other = draws(1), draws(1), draws(2)

    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_dropout_noise_draws_in_chunks(monkeypatch):
    monkeypatch.setattr(_numpy_engine, "_BITS_PER_DRAW", 1000)
    noise = EpochNoise((64, 32, 32, 64), 16, [32, 32, 30], n_val=0)
    noise.keep_flat[:] = False

    DropoutNoise(5).fill(noise)

    # 18,048 units in 19 chunks, the last one partial: each chunk is drawn.
    chunks = noise.keep_flat[: 18 * 1000].reshape(18, 1000)
    assert (chunks.mean(axis=1) > 0.8).all()
    assert noise.keep_flat[18 * 1000 :].mean() > 0.8


WIDTH = N_FEATURES + N_CLASSES
BAD_ROWS = [
    ("no rows", torch.empty(0, WIDTH), torch.empty(0), "at least one"),
    ("1-D inputs", torch.ones(WIDTH), torch.ones(1), "2-D tensor"),
    ("weights column", torch.ones(6, WIDTH), torch.ones(6, 1), r"shape \(6,\)"),
    ("float64", torch.ones(6, WIDTH).double(), torch.ones(6).double(), "float32"),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("inputs", "weights", "message"),
    [case[1:] for case in BAD_ROWS],
    ids=[case[0] for case in BAD_ROWS],
)
def test_bad_training_rows_rejected(engine, inputs, weights, message):
    with pytest.raises(ValueError, match=message):
        train_network(
            make_model(),
            inputs,
            weights,
            None,
            None,
            settings(),
            torch.Generator(),
            engine=engine,
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_validation_rows_rejected(engine):
    empty = torch.empty(0, N_FEATURES + N_CLASSES), torch.empty(0)

    with pytest.raises(ValueError, match="Pass None for no validation rows"):
        train_network(
            make_model(),
            *make_rows(8),
            *empty,
            settings(),
            torch.Generator(),
            engine=engine,
        )


def test_validation_inputs_without_weights_rejected():
    with pytest.raises(ValueError, match="both be tensors or both None"):
        train_network(
            make_model(),
            *make_rows(8),
            make_rows(4)[0],
            None,
            settings(),
            torch.Generator(),
        )


def test_inputs_requiring_grad_accepted():
    inputs, weights = make_rows(10)
    inputs.requires_grad_(True)

    result = train_network(
        make_model(), inputs, weights, None, None, settings(), torch.Generator()
    )

    assert len(result.history) == settings().epochs
