"""Mini-batch training of the conditional VAE with early stopping.

Training runs on a flat copy of the network's parameters with hand-written
gradients instead of autograd. For this small network, autograd's per-operation
bookkeeping costs more than the arithmetic, and Adam and gradient clipping over
14 separate tensors cost more than over one. The step computes the same
quantities as ``ConditionalVAE.forward``, ``cvae_loss``, ``loss.backward()``,
``clip_grad_norm_(max_norm=1.0)`` and ``Adam.step()``. On CPU it draws the same
dropout masks and ``eps`` from torch's global generator in the same order, so
the results agree with the autograd version up to float32 rounding (the tests
compare both). On CUDA, ``nn.Dropout`` uses a fused kernel that draws its masks
differently, so there the masks differ from the module's but have the same
distribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from leo_cvae_plugin._network import (
    DROPOUT,
    LOGVAR_MAX,
    LOGVAR_MIN,
    NEGATIVE_SLOPE,
    ConditionalVAE,
)

__all__ = [
    "HISTORY_COLUMNS",
    "NonFiniteLossError",
    "FlatAdam",
    "FlatCVAE",
    "TrainingResult",
    "TrainingSettings",
    "latent_buffer",
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

_leaky_relu_backward = torch.ops.aten.leaky_relu_backward


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


class FlatCVAE:
    """A :class:`ConditionalVAE`'s parameters and gradients as two flat tensors.

    ``data`` and ``grad`` are contiguous 1-D tensors. The weight and bias views
    into them are laid out so that the mean and log-variance heads form one
    ``(2 * latent_dim, h // 2)`` matrix, which both heads share in one matrix
    product. :meth:`load` and :meth:`store` copy values between the flat tensor
    and the module given to the constructor. Neither tensor requires gradients,
    so the methods record no autograd graph.
    """

    def __init__(
        self, model: ConditionalVAE, device: torch.device, beta: float, min_kl: float
    ) -> None:
        self.n_features = model.n_features
        self.latent_dim = model.latent_dim
        self.beta = beta
        self.min_kl = min_kl
        self._scalars: dict[float, torch.Tensor] = {}

        encoder_1, encoder_2 = model.encoder[0], model.encoder[3]
        decoder_1, decoder_2, decoder_3 = (
            model.decoder[0],
            model.decoder[3],
            model.decoder[6],
        )
        # Order of the module parameters in the flat tensor.
        self._module_parameters = [
            encoder_1.weight,
            encoder_1.bias,
            encoder_2.weight,
            encoder_2.bias,
            model.mu_head.weight,
            model.logvar_head.weight,
            model.mu_head.bias,
            model.logvar_head.bias,
            decoder_1.weight,
            decoder_1.bias,
            decoder_2.weight,
            decoder_2.bias,
            decoder_3.weight,
            decoder_3.bias,
        ]

        total = sum(p.numel() for p in self._module_parameters)
        dtype = self._module_parameters[0].dtype
        self.data = torch.empty(total, dtype=dtype, device=device)
        self.grad = torch.zeros_like(self.data)
        self._data_views = self._split(self.data)
        self._grad_views = self._split(self.grad)
        self.load()

    def _split(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        views = []
        offset = 0
        for parameter in self._module_parameters:
            size = parameter.numel()
            views.append(flat[offset : offset + size].view(parameter.shape))
            offset += size
        half = views[2].shape[0]
        heads_weight_size = 2 * self.latent_dim * half
        heads_start = sum(v.numel() for v in views[:4])
        heads_weight = flat[heads_start : heads_start + heads_weight_size]
        heads_bias = flat[
            heads_start + heads_weight_size : heads_start
            + heads_weight_size
            + 2 * self.latent_dim
        ]
        return {
            "encoder_1_weight": views[0],
            "encoder_1_bias": views[1],
            "encoder_2_weight": views[2],
            "encoder_2_bias": views[3],
            "heads_weight": heads_weight.view(2 * self.latent_dim, half),
            "heads_bias": heads_bias,
            "decoder_1_weight": views[8],
            "decoder_1_bias": views[9],
            "decoder_2_weight": views[10],
            "decoder_2_bias": views[11],
            "decoder_3_weight": views[12],
            "decoder_3_bias": views[13],
        }

    @torch.no_grad()
    def load(self) -> None:
        """Copy the module's parameters into ``data``."""
        offset = 0
        for parameter in self._module_parameters:
            size = parameter.numel()
            self.data[offset : offset + size].copy_(parameter.reshape(-1))
            offset += size

    @torch.no_grad()
    def store(self) -> None:
        """Copy ``data`` back into the module's parameters."""
        offset = 0
        for parameter in self._module_parameters:
            size = parameter.numel()
            parameter.copy_(self.data[offset : offset + size].view(parameter.shape))
            offset += size

    def _scalar(self, value: float) -> torch.Tensor:
        # Returns a cached 0-d tensor of the parameters' dtype. Torch wraps and
        # casts a Python number on every operation, which costs as much as a
        # small operation. The arithmetic is the same either way.
        tensor = self._scalars.get(value)
        if tensor is None:
            tensor = torch.tensor(value, dtype=self.data.dtype, device=self.data.device)
            self._scalars[value] = tensor
        return tensor

    def _dropout_mask(self, hidden: torch.Tensor) -> torch.Tensor:
        # Same draws as torch.nn.functional.dropout on CPU: bernoulli_(1 - p) on
        # a tensor shaped like the input, scaled by 1 / (1 - p).
        keep = 1.0 - DROPOUT
        return torch.bernoulli(hidden, keep).div_(self._scalar(keep))

    def _forward(
        self, inputs: torch.Tensor, latent_inputs: torch.Tensor, training: bool
    ) -> tuple[torch.Tensor, ...]:
        # Returns every intermediate value that the backward pass needs.
        # latent_inputs is an (n, z + C) buffer whose last C columns contain the
        # one-hot labels. z is written into its first columns, which saves a cat.
        params = self._data_views
        z_dim = self.latent_dim

        a1 = F.linear(inputs, params["encoder_1_weight"], params["encoder_1_bias"])
        h1 = F.leaky_relu(a1, NEGATIVE_SLOPE)
        m1 = self._dropout_mask(h1) if training else None
        d1 = h1 * m1 if training else h1
        a2 = F.linear(d1, params["encoder_2_weight"], params["encoder_2_bias"])
        h2 = F.leaky_relu(a2, NEGATIVE_SLOPE)
        m2 = self._dropout_mask(h2) if training else None
        d2 = h2 * m2 if training else h2

        heads = F.linear(d2, params["heads_weight"], params["heads_bias"])
        mu = heads[:, :z_dim]
        raw_logvar = heads[:, z_dim:]
        logvar = raw_logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)
        std = torch.exp(logvar * self._scalar(0.5))
        eps = torch.randn_like(mu, memory_format=torch.contiguous_format)
        torch.addcmul(mu, eps, std, out=latent_inputs[:, :z_dim])

        a3 = F.linear(
            latent_inputs, params["decoder_1_weight"], params["decoder_1_bias"]
        )
        h3 = F.leaky_relu(a3, NEGATIVE_SLOPE)
        m3 = self._dropout_mask(h3) if training else None
        d3 = h3 * m3 if training else h3
        a4 = F.linear(d3, params["decoder_2_weight"], params["decoder_2_bias"])
        h4 = F.leaky_relu(a4, NEGATIVE_SLOPE)
        m4 = self._dropout_mask(h4) if training else None
        d4 = h4 * m4 if training else h4
        x_hat = F.linear(d4, params["decoder_3_weight"], params["decoder_3_bias"])
        return (a1, m1, d1, a2, m2, d2, mu, raw_logvar, logvar, std, eps,
                a3, m3, d3, a4, m4, d4, x_hat)  # fmt: skip

    def _loss(
        self,
        inputs: torch.Tensor,
        x_hat: torch.Tensor,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        weights: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        # The arithmetic of cvae_loss, keeping the difference and exp(logvar)
        # for the backward pass. mean() is written as sum() / n so that n is a
        # cached tensor. On CPU this gives the same bits as mean().
        batch = self._scalar(float(inputs.shape[0]))
        diff = x_hat - inputs[:, : self.n_features]
        reconstruction = (weights * diff.pow(2).sum(dim=1)).sum().div_(batch)
        variance = logvar.exp()
        kl_terms = (logvar + self._scalar(1.0)).sub_(mu.pow(2)).sub_(variance)
        kl = (kl_terms.sum(dim=1) * self._scalar(-0.5)).sum().div_(batch)
        floored = torch.clamp(kl, min=self.min_kl).mul_(self._scalar(self.beta))
        loss = reconstruction + floored
        return loss, reconstruction, kl, diff, variance

    def evaluate(
        self, inputs: torch.Tensor, latent_inputs: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        """Return ``[loss, reconstruction, kl]`` of one pass with dropout off.

        ``inputs`` is ``[x, onehot]`` of shape (n, d + C) and ``latent_inputs``
        an (n, z + C) buffer with the one-hot labels in its last C columns.
        ``z`` is still drawn, as in the training loss.
        """
        values = self._forward(inputs, latent_inputs, training=False)
        mu, logvar, x_hat = values[6], values[8], values[17]
        loss, reconstruction, kl, _, _ = self._loss(inputs, x_hat, mu, logvar, weights)
        return torch.stack((loss, reconstruction, kl))

    def compute_gradients(
        self, inputs: torch.Tensor, latent_inputs: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        """Write the loss gradient of one batch into ``grad``.

        Arguments are those of :meth:`evaluate`, but dropout is on. Returns
        ``[loss, reconstruction, kl]`` before the step.
        """
        (a1, m1, d1, a2, m2, d2, mu, raw_logvar, logvar, std, eps,
         a3, m3, d3, a4, m4, d4, x_hat) = self._forward(
            inputs, latent_inputs, training=True)  # fmt: skip
        loss, reconstruction, kl, diff, variance = self._loss(
            inputs, x_hat, mu, logvar, weights
        )
        params = self._data_views
        grads = self._grad_views
        batch = inputs.shape[0]
        z_dim = self.latent_dim

        # d/dx_hat of mean_i(w_i * sum_f (x_hat - x)^2) is 2 * w_i * (x_hat - x) / B.
        grad_out = diff.mul_((weights * self._scalar(2.0 / batch)).unsqueeze(1))
        torch.mm(grad_out.t(), d4, out=grads["decoder_3_weight"])
        torch.sum(grad_out, dim=0, out=grads["decoder_3_bias"])

        grad_a4 = _leaky_relu_backward(
            grad_out.mm(params["decoder_3_weight"]).mul_(m4), a4, NEGATIVE_SLOPE, False
        )
        torch.mm(grad_a4.t(), d3, out=grads["decoder_2_weight"])
        torch.sum(grad_a4, dim=0, out=grads["decoder_2_bias"])

        grad_a3 = _leaky_relu_backward(
            grad_a4.mm(params["decoder_2_weight"]).mul_(m3), a3, NEGATIVE_SLOPE, False
        )
        torch.mm(grad_a3.t(), latent_inputs, out=grads["decoder_1_weight"])
        torch.sum(grad_a3, dim=0, out=grads["decoder_1_bias"])
        grad_z = grad_a3.mm(params["decoder_1_weight"][:, :z_dim])

        # The floored KL term beta * max(L_KL, min_kl) passes gradient only while
        # L_KL >= min_kl, like torch.clamp. With L_KL a batch mean:
        # dL_KL/dmu = mu / B and dL_KL/dlogvar = (exp(logvar) - 1) / (2 B).
        kl_scale = torch.where(
            kl >= self._scalar(self.min_kl),
            self._scalar(self.beta / batch),
            self._scalar(0.0),
        )
        grad_heads = mu.new_empty((batch, 2 * z_dim))
        torch.addcmul(grad_z, mu, kl_scale, out=grad_heads[:, :z_dim])
        # z = mu + eps * exp(logvar / 2), so dz/dlogvar = eps * std / 2.
        grad_logvar = grad_z.mul_(eps).mul_(std)
        grad_logvar.addcmul_(variance.sub_(self._scalar(1.0)), kl_scale)
        grad_logvar.mul_(self._scalar(0.5))
        # clamp passes gradient only where the raw value lies inside the range.
        inside = logvar == raw_logvar
        torch.mul(grad_logvar, inside, out=grad_heads[:, z_dim:])
        torch.mm(grad_heads.t(), d2, out=grads["heads_weight"])
        torch.sum(grad_heads, dim=0, out=grads["heads_bias"])

        grad_a2 = _leaky_relu_backward(
            grad_heads.mm(params["heads_weight"]).mul_(m2), a2, NEGATIVE_SLOPE, False
        )
        torch.mm(grad_a2.t(), d1, out=grads["encoder_2_weight"])
        torch.sum(grad_a2, dim=0, out=grads["encoder_2_bias"])

        grad_a1 = _leaky_relu_backward(
            grad_a2.mm(params["encoder_2_weight"]).mul_(m1), a1, NEGATIVE_SLOPE, False
        )
        torch.mm(grad_a1.t(), inputs, out=grads["encoder_1_weight"])
        torch.sum(grad_a1, dim=0, out=grads["encoder_1_bias"])
        return torch.stack((loss, reconstruction, kl))

    def clip_gradient(self, max_norm: float) -> None:
        """Scale ``grad`` like ``torch.nn.utils.clip_grad_norm_`` does."""
        total_norm = torch.dot(self.grad, self.grad).sqrt_()
        scale = torch.div(self._scalar(max_norm), total_norm.add_(self._scalar(1e-6)))
        self.grad.mul_(scale.clamp_(max=1.0))


class FlatAdam:
    """Adam with L2 weight decay on one flat tensor.

    The update is the one of ``torch.optim.Adam(lr, betas=(0.9, 0.999),
    eps=1e-8, weight_decay)`` without its per-call Python bookkeeping, which
    costs more than the update itself for a network this small.
    """

    def __init__(
        self,
        parameter: torch.Tensor,
        gradient: torch.Tensor,
        learning_rate: float,
        weight_decay: float,
    ) -> None:
        self.parameter = parameter
        self.gradient = gradient
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.beta1, self.beta2, self.eps = 0.9, 0.999, 1e-8
        self.exp_avg = torch.zeros_like(parameter)
        self.exp_avg_sq = torch.zeros_like(parameter)
        self.step_count = 0
        # 0-d tensors avoid wrapping these numbers on every step.
        self._beta2 = torch.tensor(
            self.beta2, dtype=parameter.dtype, device=parameter.device
        )
        self._eps = torch.tensor(
            self.eps, dtype=parameter.dtype, device=parameter.device
        )

    def step(self) -> None:
        """Apply one update with the gradient in ``gradient``."""
        self.step_count += 1
        grad = self.gradient
        if self.weight_decay != 0:
            grad = grad.add(self.parameter, alpha=self.weight_decay)
        self.exp_avg.lerp_(grad, 1 - self.beta1)
        self.exp_avg_sq.mul_(self._beta2).addcmul_(grad, grad, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1**self.step_count
        bias_correction2 = 1 - self.beta2**self.step_count
        denominator = (self.exp_avg_sq.sqrt() / bias_correction2**0.5).add_(self._eps)
        self.parameter.addcdiv_(
            self.exp_avg, denominator, value=-self.learning_rate / bias_correction1
        )


def _raise_non_finite(
    epoch: int, stats: torch.Tensor, n_batches: int, record: list[float]
) -> None:
    train_ok = torch.isfinite(stats[:n_batches]).all(dim=1)
    if not bool(train_ok.all()):
        batch = int(torch.nonzero(~train_ok)[0, 0]) + 1
        where = f"in training batch {batch} of epoch {epoch}"
        values = stats[batch - 1].tolist()
    else:
        where = f"on the validation rows in epoch {epoch}"
        values = record[3:]
    raise NonFiniteLossError(
        f"LEO-CVAE loss is not finite {where} (loss, reconstruction, KL = "
        f"{values}). Standardise the features (for example with "
        "sklearn.preprocessing.StandardScaler) or lower learning_rate."
    )


def latent_buffer(
    inputs: torch.Tensor, n_features: int, latent_dim: int
) -> torch.Tensor:
    """Return an (n, latent_dim + C) buffer with the one-hot labels of ``inputs``.

    The first ``latent_dim`` columns are left for the latent codes.
    """
    onehot = inputs[:, n_features:]
    buffer = inputs.new_zeros((inputs.shape[0], latent_dim + onehot.shape[1]))
    buffer[:, latent_dim:] = onehot
    return buffer


def train_network(
    model: ConditionalVAE,
    train_inputs: torch.Tensor,
    train_weights: torch.Tensor,
    val_inputs: torch.Tensor | None,
    val_weights: torch.Tensor | None,
    settings: TrainingSettings,
    shuffle_generator: torch.Generator,
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

    Raises
    ------
    NonFiniteLossError
        When a training batch or the validation loss is NaN or infinite. The
        message names the epoch.
    """
    # Inference mode skips autograd's dispatch work on every operation, which
    # is a measurable share of a step this small.
    with torch.inference_mode():
        return _run_epochs(
            model,
            train_inputs,
            train_weights,
            val_inputs,
            val_weights,
            settings,
            shuffle_generator,
        )


def _run_epochs(
    model: ConditionalVAE,
    train_inputs: torch.Tensor,
    train_weights: torch.Tensor,
    val_inputs: torch.Tensor | None,
    val_weights: torch.Tensor | None,
    settings: TrainingSettings,
    shuffle_generator: torch.Generator,
) -> TrainingResult:
    device = train_inputs.device
    flat = FlatCVAE(model, device, settings.beta, settings.min_kl)
    optimizer = FlatAdam(
        flat.data, flat.grad, settings.learning_rate, settings.weight_decay
    )
    n_features, latent_dim = model.n_features, model.latent_dim

    n_train = train_inputs.shape[0]
    batch_size = settings.batch_size
    n_batches = math.ceil(n_train / batch_size)
    batch_sizes = torch.tensor(
        [min(batch_size, n_train - b * batch_size) for b in range(n_batches)],
        dtype=flat.data.dtype,
        device=device,
    ).unsqueeze(1)
    # Rows 0 .. n_batches - 1 hold batch losses, the last row the validation loss.
    stats = torch.full((n_batches + 1, 3), math.nan, device=device)
    if val_inputs is not None:
        val_latent = latent_buffer(val_inputs, n_features, latent_dim)

    best_data = flat.data.clone()
    best_loss = math.inf
    result = TrainingResult()
    epochs_without_improvement = 0

    for epoch in range(1, settings.epochs + 1):
        permutation = torch.randperm(n_train, generator=shuffle_generator)
        permutation = permutation.to(device)
        epoch_inputs = train_inputs.index_select(0, permutation)
        epoch_weights = train_weights.index_select(0, permutation)
        epoch_latent = latent_buffer(epoch_inputs, n_features, latent_dim)
        for b in range(n_batches):
            rows = slice(b * batch_size, (b + 1) * batch_size)
            stats[b] = flat.compute_gradients(
                epoch_inputs[rows], epoch_latent[rows], epoch_weights[rows]
            )
            flat.clip_gradient(MAX_GRAD_NORM)
            optimizer.step()
        if val_inputs is not None:
            stats[n_batches] = flat.evaluate(val_inputs, val_latent, val_weights)

        train_means = (stats[:n_batches] * batch_sizes).sum(dim=0) / n_train
        # The only host-device synchronisation of the epoch.
        record = torch.cat((train_means, stats[n_batches])).tolist()
        result.history.append(record)
        train_finite = all(math.isfinite(v) for v in record[:3])
        val_finite = val_inputs is None or all(math.isfinite(v) for v in record[3:])
        if not (train_finite and val_finite):
            _raise_non_finite(epoch, stats, n_batches, record)

        if val_inputs is None:
            result.best_epoch = epoch
            continue
        if record[3] < best_loss - MIN_DELTA:
            best_loss = record[3]
            best_data.copy_(flat.data)
            result.best_epoch = epoch
            epochs_without_improvement = 0
        else:
            epochs_without_improvement += 1
            if epochs_without_improvement >= settings.patience:
                break

    if val_inputs is not None:
        flat.data.copy_(best_data)
    flat.store()
    return result
