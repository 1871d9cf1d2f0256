"""Mini-batch training of the conditional VAE with early stopping.

Two engines run the same epochs: the same batches, loss, gradient clipping and
Adam update. On the CPU, :class:`~leo_cvae_plugin._numpy_engine.NumpyCVAE`
trains a flat NumPy copy of the weights with hand-written gradients, about 12
times faster per epoch than the textbook PyTorch loop for this network
(``benchmarks/bench_leo_cvae_epoch.py``, numbers in docs/benchmarks.md). On
any other device the module itself trains with autograd, ``clip_grad_norm_``
and ``torch.optim.Adam``, because there the work happens in device kernels.

The NumPy engine draws its dropout masks and latent ``eps`` once per epoch from
a :class:`DropoutNoise`. :class:`ModuleOrderNoise` instead draws them from
torch's global generator in the order ``ConditionalVAE.forward`` does, so a
test can check the NumPy engine batch for batch against autograd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from leo_cvae_plugin._loss import cvae_loss
from leo_cvae_plugin._network import ConditionalVAE
from leo_cvae_plugin._numpy_engine import DropoutNoise, ModuleOrderNoise, NumpyTrainer

__all__ = [
    "HISTORY_COLUMNS",
    "MAX_GRAD_NORM",
    "MIN_DELTA",
    "DropoutNoise",
    "ModuleOrderNoise",
    "NonFiniteLossError",
    "TrainingResult",
    "TrainingSettings",
    "train_network",
]

MAX_GRAD_NORM = 1.0
# Smallest decrease of the validation loss that counts as an improvement.
MIN_DELTA = 1e-4

HISTORY_COLUMNS = (
    "train_loss",
    "train_reconstruction",
    "train_kl",
    "val_loss",
    "val_reconstruction",
    "val_kl",
)


@dataclass(frozen=True)
class TrainingSettings:
    """Optimisation hyperparameters of one training run."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int
    beta: float
    min_kl: float


@dataclass
class TrainingResult:
    """Per-epoch losses and the epoch whose weights were kept.

    ``history`` has one row per epoch with the values of
    :data:`HISTORY_COLUMNS`. Training values are batch means weighted by batch
    size. The validation values are NaN when no validation rows were held out.
    Epochs are numbered from 1.
    """

    history: list[list[float]] = field(default_factory=list)
    best_epoch: int = 0


class NonFiniteLossError(FloatingPointError):
    """The training or validation loss became NaN or infinite."""


def train_network(
    model: ConditionalVAE,
    train_inputs: torch.Tensor,
    train_weights: torch.Tensor,
    val_inputs: torch.Tensor | None,
    val_weights: torch.Tensor | None,
    settings: TrainingSettings,
    shuffle_generator: torch.Generator,
    noise: DropoutNoise | ModuleOrderNoise | None = None,
    engine: str | None = None,
) -> TrainingResult:
    """Train ``model`` in place and leave the weights of the best epoch in it.

    ``*_inputs`` are ``[x, onehot]`` rows on the training device and
    ``*_weights`` the per-row reconstruction weights. Each epoch shuffles the
    training rows with ``torch.randperm(n, generator=shuffle_generator)`` and
    cuts the permutation into consecutive batches of ``batch_size``. The last
    batch may be smaller. These are the batches of a
    ``DataLoader(shuffle=True, drop_last=False)`` whose sampler uses that
    generator.

    With validation rows, training stops after ``patience`` epochs without a
    validation loss at least ``MIN_DELTA`` below the best so far, and the
    weights of the best epoch are restored from a separate copy. Without them,
    all ``epochs`` epochs run and the last weights are kept.

    ``engine`` is ``"numpy"`` (the default on the CPU, and CPU only) or
    ``"autograd"`` (the default on other devices). ``noise`` supplies
    the NumPy engine's dropout masks and ``eps``. By default it is a
    :class:`DropoutNoise` seeded from torch's global generator, so
    ``torch.manual_seed`` makes either engine reproducible.

    Raises
    ------
    NonFiniteLossError
        When a training batch or the validation loss is NaN or infinite. The
        message names the epoch.
    ValueError
        When ``engine`` is unknown, or ``"numpy"`` with inputs off the CPU, or
        when the inputs or weights are not float32 tensors of matching shapes
        with at least one row.
    """
    _check_rows("train", train_inputs, train_weights)
    if val_inputs is not None or val_weights is not None:
        _check_rows("val", val_inputs, val_weights)
    on_cpu = train_inputs.device.type == "cpu"
    engine = engine or ("numpy" if on_cpu else "autograd")
    if engine == "numpy" and not on_cpu:
        raise ValueError(
            f"The numpy engine trains on the CPU, but the inputs are on "
            f"{train_inputs.device}. Use engine='autograd'."
        )
    batch_sizes = batch_sizes_of(len(train_inputs), settings.batch_size)
    rows = (train_inputs, train_weights, val_inputs, val_weights)
    if engine == "numpy":
        if noise is None:
            noise = DropoutNoise(int(torch.randint(2**62, (1,)).item()))
        trainer = NumpyTrainer(
            model, *rows, settings, batch_sizes, noise, MAX_GRAD_NORM
        )
    elif engine == "autograd":
        trainer = _AutogradTrainer(model, *rows, settings, batch_sizes)
    else:
        raise ValueError(
            f"Invalid engine={engine!r}. Use 'numpy' (CPU only) or 'autograd'."
        )
    # NumPy warns on overflow. The epoch loop checks every loss instead.
    with np.errstate(all="ignore"):
        return _run_epochs(trainer, settings, shuffle_generator)


def _check_rows(name: str, inputs, weights) -> None:
    # Both engines rely on these shapes and the float32 dtype.
    if inputs is None or weights is None:
        raise ValueError(
            f"{name}_inputs and {name}_weights must both be tensors or both None."
        )
    if inputs.ndim != 2 or len(inputs) == 0:
        hint = " Pass None for no validation rows." if name == "val" else ""
        raise ValueError(
            f"{name}_inputs must be a 2-D tensor with at least one row, got shape "
            f"{tuple(inputs.shape)}.{hint}"
        )
    if tuple(weights.shape) != (len(inputs),):
        raise ValueError(
            f"{name}_weights must have shape ({len(inputs)},), one weight per row, "
            f"got {tuple(weights.shape)}."
        )
    if inputs.dtype != torch.float32 or weights.dtype != torch.float32:
        raise ValueError(
            f"{name}_inputs and {name}_weights must be float32, got "
            f"{inputs.dtype} and {weights.dtype}."
        )


def batch_sizes_of(n_rows: int, batch_size: int) -> list[int]:
    """Return the sizes of the consecutive batches that cover ``n_rows`` rows."""
    return [min(batch_size, n_rows - start) for start in range(0, n_rows, batch_size)]


def _run_epochs(
    trainer, settings: TrainingSettings, generator: torch.Generator
) -> TrainingResult:
    # trainer is a NumpyTrainer or an _AutogradTrainer.
    sizes = np.array(trainer.batch_sizes, dtype=np.float64)
    n_train = int(sizes.sum())
    best_loss = math.inf
    result = TrainingResult()
    epochs_without_improvement = 0

    for epoch in range(1, settings.epochs + 1):
        permutation = torch.randperm(n_train, generator=generator)
        batch_stats, val_stats = trainer.run_epoch(permutation)
        record = [*(sizes @ batch_stats / n_train).tolist(), *val_stats.tolist()]
        result.history.append(record)
        if not all(math.isfinite(v) for v in record[:3]) or (
            trainer.has_validation and not all(math.isfinite(v) for v in record[3:])
        ):
            _raise_non_finite(epoch, batch_stats, record)

        if not trainer.has_validation:
            result.best_epoch = epoch
            continue
        if record[3] < best_loss - MIN_DELTA:
            best_loss = record[3]
            trainer.save_best()
            result.best_epoch = epoch
            epochs_without_improvement = 0
        else:
            epochs_without_improvement += 1
            if epochs_without_improvement >= settings.patience:
                break

    if trainer.has_validation:
        trainer.restore_best()
    trainer.finish()
    return result


def _raise_non_finite(epoch: int, batch_stats: np.ndarray, record: list[float]):
    train_ok = np.isfinite(batch_stats).all(axis=1)
    if not train_ok.all():
        batch = int(np.flatnonzero(~train_ok)[0]) + 1
        where = f"in training batch {batch} of epoch {epoch}"
        values = batch_stats[batch - 1].tolist()
    else:
        where = f"on the validation rows in epoch {epoch}"
        values = record[3:]
    raise NonFiniteLossError(
        f"LEO-CVAE loss is not finite {where} (loss, reconstruction, KL = "
        f"{values}). Standardise the features (for example with "
        "sklearn.preprocessing.StandardScaler) or lower learning_rate."
    )


class _AutogradTrainer:
    """Epochs of the module itself with autograd and ``torch.optim.Adam``."""

    def __init__(
        self,
        model,
        train_inputs,
        train_weights,
        val_inputs,
        val_weights,
        settings,
        batch_sizes,
    ):
        self.model = model
        self.settings = settings
        self.optimizer = torch.optim.Adam(
            model.parameters(),
            lr=settings.learning_rate,
            weight_decay=settings.weight_decay,
        )
        self.has_validation = val_inputs is not None
        self.train_inputs, self.train_weights = train_inputs, train_weights
        self.val_inputs, self.val_weights = val_inputs, val_weights
        self.batch_sizes = batch_sizes
        # A real copy of the tensors: a state_dict() alone would only hold
        # references to the parameters that training goes on to change.
        self._best = [p.detach().clone() for p in model.parameters()]

    def _losses(self, inputs, weights):
        d = self.model.n_features
        x, onehot = inputs[:, :d], inputs[:, d:]
        x_hat, mu, logvar = self.model(x, onehot)
        return cvae_loss(
            x_hat, x, mu, logvar, weights, self.settings.beta, self.settings.min_kl
        )

    def run_epoch(self, permutation: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        model, optimizer = self.model, self.optimizer
        permutation = permutation.to(self.train_inputs.device)
        stats = torch.full(
            (len(self.batch_sizes) + 1, 3), math.nan, device=self.train_inputs.device
        )
        model.train()
        start = 0
        for index, size in enumerate(self.batch_sizes):
            rows = permutation[start : start + size]
            start += size
            optimizer.zero_grad(set_to_none=True)
            loss, reconstruction, kl = self._losses(
                self.train_inputs[rows], self.train_weights[rows]
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            stats[index] = torch.stack((loss, reconstruction, kl)).detach()
        if self.has_validation:
            model.eval()
            with torch.no_grad():
                stats[-1] = torch.stack(self._losses(self.val_inputs, self.val_weights))
        # The only host-device synchronisation of the epoch.
        values = stats.cpu().double().numpy()
        return values[:-1], values[-1]

    @torch.no_grad()
    def save_best(self) -> None:
        for saved, parameter in zip(self._best, self.model.parameters(), strict=True):
            saved.copy_(parameter)

    @torch.no_grad()
    def restore_best(self) -> None:
        for saved, parameter in zip(self._best, self.model.parameters(), strict=True):
            parameter.copy_(saved)

    def finish(self) -> None:
        self.model.eval()
