"""CPU training of the conditional VAE in NumPy with hand-written gradients.

For a network this small, the cost of a training step is the number of array
calls, not their arithmetic. On the 2-core machine of docs/benchmarks.md, a
small torch call cost about 4-7 microseconds of dispatch and a NumPy call
about 1, and autograd, ``nn.Module`` and ``torch.optim`` add their own Python
work on top. :class:`NumpyCVAE`
therefore keeps the weights in one flat float32 array and computes the forward
pass, the loss, its gradient and gradient clipping with about 60 NumPy calls
per batch, all writing into arrays allocated once per training run. Adam runs
as one call to torch's fused CPU kernel where the installed torch has one.

The step computes the same quantities as ``ConditionalVAE.forward``,
``cvae_loss``, ``loss.backward()``, ``clip_grad_norm_(max_norm=1.0)`` and
``torch.optim.Adam.step()``. Given the same dropout masks and ``eps``, the
results agree with autograd up to float32 rounding (the tests compare both).

Layout. Per-row values are stored feature-major, one column per row, so the
values of one batch form contiguous blocks and every elementwise call runs over
contiguous memory. A linear layer is one ``(outputs, inputs + 1)`` matrix:
torch's weight with the bias as one more column, multiplied by an input that
has a row of ones in the matching place. One matrix product then gives the
layer's output, and one product gives the gradient of its weight and bias.
Each batch keeps its data in one ``(1 + d + C + 1 + z, rows)`` array with the
rows ``[w, x, onehot, 1, z]``. The encoder reads ``[x, onehot, 1]`` and the
decoder ``[onehot, 1, z]``, both contiguous blocks of that array, so the
decoder's matrix stores its columns in the order onehot, bias, z.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from leo_cvae_plugin._network import (
    DROPOUT,
    LOGVAR_MAX,
    LOGVAR_MIN,
    NEGATIVE_SLOPE,
    ConditionalVAE,
)

__all__ = [
    "DropoutNoise",
    "EpochNoise",
    "FusedAdam",
    "ModuleOrderNoise",
    "NumpyAdam",
    "NumpyCVAE",
    "NumpyTrainer",
    "batch_blocks",
    "fused_adam_available",
    "make_adam",
    "mask_widths",
]

# The Python floats in the arithmetic below keep float32 arrays float32,
# because they are weak scalars in NumPy 2 and small enough for value-based
# casting in NumPy 1.x.
FLOAT = np.float32
# The value a kept unit is multiplied by, as nn.Dropout computes it in float32.
KEEP_SCALE = FLOAT(1.0) / FLOAT(1.0 - DROPOUT)
# A kept unit's gain is MID_GAIN + HALF_GAIN for a positive input and
# MID_GAIN - HALF_GAIN, the LeakyReLU slope times KEEP_SCALE, for a negative one.
HALF_GAIN = KEEP_SCALE * FLOAT((1.0 - NEGATIVE_SLOPE) / 2)
MID_GAIN = KEEP_SCALE - HALF_GAIN
# torch.optim.Adam's default betas and eps.
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


def mask_widths(model: ConditionalVAE) -> tuple[int, int, int, int]:
    """Return the widths of the four dropout layers, encoder first."""
    hidden = model.encoder[0].out_features
    half = model.encoder[3].out_features
    return hidden, half, half, hidden


def _with_ones_row(n_rows: int, n_columns: int) -> np.ndarray:
    # An (n_rows + 1, n_columns) array whose last row is 1.
    array = np.empty((n_rows + 1, n_columns), dtype=FLOAT)
    array[-1] = 1.0
    return array


class _Pass:
    """The arrays of one forward and backward pass over ``n`` rows.

    ``data`` is the ``[w, x, onehot, 1, z]`` array of these rows and ``keep``
    the flat block of their dropout masks (see :func:`batch_blocks`), or None
    for a pass without dropout. ``eps`` is set by the trainer. The other arrays
    are scratch space that the pass overwrites. Passes over the same number of
    rows share them, so the memory stays in the CPU cache from batch to batch.
    """

    def __init__(self, network: NumpyCVAE, data, keep, scratch):
        d, c = network.n_features, network.n_classes
        self.n = data.shape[1]
        self.data = data
        self.weights = data[:1]
        self.x = data[1 : 1 + d]
        self.encoder_inputs = data[1 : 2 + d + c]
        self.decoder_inputs = data[1 + d :]
        self.z = data[2 + d + c :]
        self.keep = keep
        self.eps = None
        self.any_clamped = False
        vars(self).update(scratch)


def _scratch(network: NumpyCVAE, n: int) -> dict[str, object]:
    # Scratch arrays for a pass over n rows, by _Pass attribute name.
    d, z = network.n_features, network.latent_dim
    heads = np.empty((2 * z, n), dtype=FLOAT)
    grad_heads = np.empty_like(heads)
    hidden = [_with_ones_row(w, n) for w in network.widths]
    # The dropout masks times HALF_GAIN and MID_GAIN, flat and by layer.
    keep_half = np.empty(n * sum(network.widths), dtype=FLOAT)
    keep_mid = np.empty_like(keep_half)
    return {
        "keep_half_flat": keep_half,
        "keep_mid_flat": keep_mid,
        "keep_half": batch_blocks(keep_half, [n], network.widths)[0],
        "keep_mid": batch_blocks(keep_mid, [n], network.widths)[0],
        "pre": [np.empty((w, n), dtype=FLOAT) for w in network.widths],
        "gain": [np.empty((w, n), dtype=FLOAT) for w in network.widths],
        "grad_pre": [np.empty((w, n), dtype=FLOAT) for w in network.widths],
        "hidden": hidden,
        "hidden_values": [array[:-1] for array in hidden],
        "heads": heads,
        "mu": heads[:z],
        "raw_logvar": heads[z:],
        "grad_heads": grad_heads,
        "grad_mu": grad_heads[:z],
        "grad_logvar": grad_heads[z:],
        "logvar": np.empty((z, n), dtype=FLOAT),
        "clamped_logvar": None,
        "std": np.empty((z, n), dtype=FLOAT),
        "spread": np.empty((z, n), dtype=FLOAT),
        "variance": np.empty((z, n), dtype=FLOAT),
        "kl_terms": np.empty((z, n), dtype=FLOAT),
        "grad_z": np.empty((z, n), dtype=FLOAT),
        "clamped": np.empty((z, n), dtype=bool),
        "x_hat": np.empty((d, n), dtype=FLOAT),
        "diff": np.empty((d, n), dtype=FLOAT),
        "grad_out": np.empty((d, n), dtype=FLOAT),
    }


class NumpyCVAE:
    """A :class:`ConditionalVAE`'s parameters and gradient as flat float32 arrays.

    ``data`` and ``grad`` are 1-D arrays. ``layers`` and ``layer_grads`` are
    ``(outputs, inputs + 1)`` views into them, one per linear layer, in the
    order encoder 1, encoder 2, both heads (mean rows first), decoder 1,
    decoder 2, decoder 3 (see the module docstring for the column order).
    :meth:`load` and :meth:`store` copy the values between these arrays and
    the module given to the constructor.
    """

    def __init__(self, model: ConditionalVAE, beta: float, min_kl: float) -> None:
        self.model = model
        self.n_features = d = model.n_features
        self.n_classes = c = model.n_classes
        self.latent_dim = z = model.latent_dim
        self.widths = mask_widths(model)
        self.beta = beta
        self.min_kl = min_kl

        hidden, half = self.widths[0], self.widths[1]
        shapes = [
            (hidden, d + c + 1),
            (half, hidden + 1),
            (2 * z, half + 1),
            (half, c + 1 + z),
            (hidden, half + 1),
            (d, hidden + 1),
        ]
        total = sum(rows * columns for rows, columns in shapes)
        self.data = np.zeros(total, dtype=FLOAT)
        self.grad = np.zeros(total, dtype=FLOAT)
        self.layers = self._split(self.data, shapes)
        self.layer_grads = self._split(self.grad, shapes)
        # The columns that multiply the previous layer's output, transposed
        # for the backward products.
        self._input_weights_t = [layer[:, :-1].T for layer in self.layers]
        self._input_weights_t[3] = self.layers[3][:, c + 1 :].T
        self.load()

    @staticmethod
    def _split(flat: np.ndarray, shapes) -> list[np.ndarray]:
        views = []
        offset = 0
        for rows, columns in shapes:
            views.append(flat[offset : offset + rows * columns].reshape(rows, columns))
            offset += rows * columns
        return views

    def _module_pairs(self):
        # (layer matrix, its rows, torch Linear, the matrix column of each
        # torch weight column, the bias column) for each torch Linear.
        model = self.model
        d, c, z = self.n_features, self.n_classes, self.latent_dim
        hidden, half = self.widths[0], self.widths[1]
        layers = self.layers
        everything = slice(None)
        return [
            (layers[0], everything, model.encoder[0], np.arange(d + c), d + c),
            (layers[1], everything, model.encoder[3], np.arange(hidden), hidden),
            (layers[2], slice(0, z), model.mu_head, np.arange(half), half),
            (layers[2], slice(z, 2 * z), model.logvar_head, np.arange(half), half),
            # torch's decoder input is [z, onehot], and ours is [onehot, 1, z].
            (
                layers[3],
                everything,
                model.decoder[0],
                np.r_[np.arange(c + 1, c + 1 + z), np.arange(c)],
                c,
            ),
            (layers[4], everything, model.decoder[3], np.arange(half), half),
            (layers[5], everything, model.decoder[6], np.arange(hidden), hidden),
        ]

    @torch.no_grad()
    def load(self) -> None:
        """Copy the module's parameters into ``data``."""
        for layer, rows, linear, columns, bias in self._module_pairs():
            layer[rows, columns] = linear.weight.detach().cpu().numpy()
            layer[rows, bias] = linear.bias.detach().cpu().numpy()

    @torch.no_grad()
    def store(self) -> None:
        """Copy ``data`` back into the module's parameters."""
        for layer, rows, linear, columns, bias in self._module_pairs():
            linear.weight.copy_(torch.from_numpy(layer[rows][:, columns]))
            linear.bias.copy_(torch.from_numpy(layer[rows, bias].copy()))

    def _hidden_layer(self, p: _Pass, index: int, inputs, layer) -> None:
        # LeakyReLU followed by dropout is pre * gain. gain is the mask value
        # times the LeakyReLU slope at pre, and also the derivative of the
        # layer's output with respect to pre, which the backward pass needs.
        # At pre == +0.0, copysign picks the positive slope where torch's
        # LeakyReLU picks the negative one. The output is 0 either way, and only
        # the gradient at that exact value differs.
        pre, gain = p.pre[index], p.gain[index]
        np.dot(layer, inputs, out=pre)
        np.copysign(p.keep_half[index], pre, out=gain)
        np.add(gain, p.keep_mid[index], out=gain)
        np.multiply(pre, gain, out=p.hidden_values[index])

    @staticmethod
    def _eval_layer(p: _Pass, index: int, inputs, layer) -> None:
        # LeakyReLU without dropout: max(pre, slope * pre), because slope < 1.
        pre = p.pre[index]
        np.dot(layer, inputs, out=pre)
        np.multiply(pre, NEGATIVE_SLOPE, out=p.gain[index])
        np.maximum(pre, p.gain[index], out=p.hidden_values[index])

    def forward(self, p: _Pass, training: bool) -> tuple[float, float, float]:
        """Run the forward pass and return its loss terms.

        The pass's data, ``eps`` and, with ``training``, its dropout masks
        must be set. Without ``training``, dropout is off. Returns
        ``(loss, reconstruction, kl)``, where ``kl`` is the KL term before its
        floor, as :func:`leo_cvae_plugin._loss.cvae_loss` defines them.
        """
        n = p.n
        layers = self.layers
        hidden_layer = self._hidden_layer if training else self._eval_layer
        if training:
            np.multiply(p.keep, HALF_GAIN, out=p.keep_half_flat)
            np.multiply(p.keep, MID_GAIN, out=p.keep_mid_flat)
        hidden_layer(p, 0, p.encoder_inputs, layers[0])
        hidden_layer(p, 1, p.hidden[0], layers[1])
        np.dot(layers[2], p.hidden[1], out=p.heads)

        # The clamp rarely changes a value, so it is applied only when the raw
        # values leave the range. A NaN fails both tests and is clamped, which
        # keeps it NaN.
        raw = p.raw_logvar
        low = np.minimum.reduce(raw, axis=None)
        high = np.maximum.reduce(raw, axis=None)
        p.any_clamped = not (LOGVAR_MIN <= low and high <= LOGVAR_MAX)
        logvar = raw
        if p.any_clamped:
            logvar = p.logvar
            np.maximum(raw, LOGVAR_MIN, out=logvar)
            np.minimum(logvar, LOGVAR_MAX, out=logvar)
        p.clamped_logvar = logvar
        np.multiply(logvar, 0.5, out=p.std)
        np.exp(p.std, out=p.std)
        np.multiply(p.eps, p.std, out=p.spread)
        np.add(p.mu, p.spread, out=p.z)

        hidden_layer(p, 2, p.decoder_inputs, layers[3])
        hidden_layer(p, 3, p.hidden[2], layers[4])
        np.dot(layers[5], p.hidden[3], out=p.x_hat)

        # Reconstruction: mean_i(w_i * sum_f (x_hat - x)^2). grad_out keeps
        # w_i * (x_hat - x) for the backward pass.
        np.subtract(p.x_hat, p.x, out=p.diff)
        np.multiply(p.diff, p.weights, out=p.grad_out)
        reconstruction = float(np.vdot(p.grad_out, p.diff)) / n

        # KL: mean_i(-0.5 * sum_z(1 + logvar - mu^2 - exp(logvar))).
        np.multiply(p.std, p.std, out=p.variance)
        terms = p.kl_terms
        np.multiply(p.mu, p.mu, out=terms)
        np.subtract(logvar, terms, out=terms)
        np.subtract(terms, p.variance, out=terms)
        kl = -0.5 * (float(np.add.reduce(terms, axis=None)) + n * self.latent_dim) / n

        loss = reconstruction + self.beta * max(kl, self.min_kl)
        return loss, reconstruction, kl

    def backward(self, p: _Pass, kl: float) -> None:
        """Write the gradient of the last :meth:`forward` on ``p`` into ``grad``."""
        n = p.n
        grads = self.layer_grads
        weights_t = self._input_weights_t

        # d/dx_hat of mean_i(w_i * sum_f (x_hat - x)^2) is 2 * w_i * (x_hat - x) / n.
        grad_out = p.grad_out
        np.multiply(grad_out, 2.0 / n, out=grad_out)
        np.dot(grad_out, p.hidden[3].T, out=grads[5])
        self._back_through(p, 3, grad_out, weights_t[5])
        np.dot(p.grad_pre[3], p.hidden[2].T, out=grads[4])
        self._back_through(p, 2, p.grad_pre[3], weights_t[4])
        np.dot(p.grad_pre[2], p.decoder_inputs.T, out=grads[3])
        np.dot(weights_t[3], p.grad_pre[2], out=p.grad_z)

        # z = mu + eps * exp(logvar / 2), so dz/dmu = 1 and
        # dz/dlogvar = eps * std / 2. The floored KL term beta * max(L_KL, min_kl)
        # passes gradient only while L_KL >= min_kl, like torch.clamp. There,
        # dL_KL/dmu = mu / n and dL_KL/dlogvar = (exp(logvar) - 1) / (2 n).
        grad_mu, grad_logvar = p.grad_mu, p.grad_logvar
        np.multiply(p.grad_z, p.spread, out=grad_logvar)
        if kl >= self.min_kl:
            kl_scale = self.beta / n
            np.multiply(p.mu, kl_scale, out=grad_mu)
            np.add(grad_mu, p.grad_z, out=grad_mu)
            variance = p.variance
            np.subtract(variance, 1.0, out=variance)
            np.multiply(variance, kl_scale, out=variance)
            np.add(grad_logvar, variance, out=grad_logvar)
        else:
            np.copyto(grad_mu, p.grad_z)
        np.multiply(grad_logvar, 0.5, out=grad_logvar)
        # clamp passes gradient only where the raw value lies inside the range.
        if p.any_clamped:
            np.not_equal(p.clamped_logvar, p.raw_logvar, out=p.clamped)
            grad_logvar[p.clamped] = 0.0

        np.dot(p.grad_heads, p.hidden[1].T, out=grads[2])
        self._back_through(p, 1, p.grad_heads, weights_t[2])
        np.dot(p.grad_pre[1], p.hidden[0].T, out=grads[1])
        self._back_through(p, 0, p.grad_pre[1], weights_t[1])
        np.dot(p.grad_pre[0], p.encoder_inputs.T, out=grads[0])

    @staticmethod
    def _back_through(p: _Pass, index: int, grad_next, next_weights_t) -> None:
        # Gradient with respect to the pre-activation of hidden layer index,
        # from the gradient of the layer that reads its output.
        grad_pre = p.grad_pre[index]
        np.dot(next_weights_t, grad_next, out=grad_pre)
        np.multiply(grad_pre, p.gain[index], out=grad_pre)

    def clip_gradient(self, max_norm: float) -> None:
        """Scale ``grad`` like ``torch.nn.utils.clip_grad_norm_`` does."""
        total_norm = math.sqrt(float(np.dot(self.grad, self.grad)))
        scale = max_norm / (total_norm + 1e-6)
        if scale < 1.0:
            np.multiply(self.grad, scale, out=self.grad)


def batch_blocks(flat: np.ndarray, batch_sizes, widths) -> list[list[np.ndarray]]:
    """Return ``(width, size)`` views into ``flat``, one per batch and width.

    The blocks lie one after the other, batch by batch and, within a batch,
    in the order of ``widths``. This is the layout of ``EpochNoise.keep_flat``
    and of the training part of ``EpochNoise.eps_flat``.
    """
    blocks = []
    offset = 0
    for size in batch_sizes:
        layers = []
        for width in widths:
            layers.append(flat[offset : offset + width * size].reshape(width, size))
            offset += width * size
        blocks.append(layers)
    return blocks


class EpochNoise:
    """Buffers for the dropout masks and latent draws of one epoch.

    ``keep[b][layer]`` is the ``(rows, width)`` keep mask (True or 1 keeps
    the unit) of batch ``b``, ``eps[b]`` its ``(rows, latent_dim)`` draws and
    ``val_eps`` those of the validation pass. They are views into the flat
    arrays ``keep_flat`` and ``eps_flat``. A noise source whose draws are
    independent and identically distributed may fill the flat arrays instead,
    in any order.
    """

    def __init__(self, widths, latent_dim: int, batch_sizes, n_val: int) -> None:
        self.widths = tuple(widths)
        self.latent_dim = latent_dim
        self.batch_sizes = list(batch_sizes)
        self.n_val = n_val
        n_train = sum(self.batch_sizes)
        self.keep_flat = np.empty(n_train * sum(self.widths), dtype=bool)
        self.eps_flat = np.empty((n_train + n_val) * latent_dim, dtype=FLOAT)
        # The flat masks of each batch, which its pass reads.
        batch_ends = np.cumsum([size * sum(self.widths) for size in self.batch_sizes])
        self.keep_by_batch = np.split(self.keep_flat, batch_ends[:-1])
        # The masks and draws are stored feature-major, as the passes read
        # them, and the public views are their transposes.
        keep_t = batch_blocks(self.keep_flat, self.batch_sizes, self.widths)
        eps_blocks = batch_blocks(self.eps_flat, self.batch_sizes, (latent_dim,))
        self.eps_t = [blocks[0] for blocks in eps_blocks]
        val_eps_flat = self.eps_flat[n_train * latent_dim :]
        self.val_eps_t = val_eps_flat.reshape(latent_dim, n_val)
        self.keep = [[mask.T for mask in masks] for masks in keep_t]
        self.eps = [block.T for block in self.eps_t]
        self.val_eps = self.val_eps_t.T


# Mask units drawn per random_raw call: 4 MiB of random bits.
_BITS_PER_DRAW = 2**20


class DropoutNoise:
    """Dropout masks and latent draws for the NumPy engine, one epoch at a time.

    A unit is kept when a uniform 32-bit integer is at least
    ``round(p * 2**32)`` for dropout probability ``p``, so it is kept with
    probability 0.9 to within 1e-10. ``eps`` is standard normal. The bits come
    from NumPy's SFC64 and the normal draws from a ``torch.Generator``, both
    seeded from ``seed`` through a ``numpy.random.SeedSequence``. These were
    the cheapest bulk draws measured for an epoch of
    ``benchmarks/bench_leo_cvae_epoch.py``. 32-bit draws cost half as much as
    float32 uniforms, SFC64 bits 30 % less than PCG64 bits, and
    ``Tensor.normal_`` less than half as much as NumPy's ``standard_normal``.
    """

    _threshold = np.uint32(round(DROPOUT * 2**32))

    def __init__(self, seed: int) -> None:
        bits_seed, normal_seed = np.random.SeedSequence(seed).spawn(2)
        self.bit_generator = np.random.SFC64(bits_seed)
        torch_seed = int(normal_seed.generate_state(1, dtype=np.uint64)[0])
        self.generator = torch.Generator().manual_seed(torch_seed)

    def fill(self, noise: EpochNoise) -> None:
        """Draw every mask and ``eps`` of ``noise``."""
        keep = noise.keep_flat
        # Chunks bound the memory of the random bits for large epochs.
        for start in range(0, len(keep), _BITS_PER_DRAW):
            chunk = keep[start : start + _BITS_PER_DRAW]
            # random_raw returns 64 bits per value: two 32-bit draws.
            raw = self.bit_generator.random_raw((len(chunk) + 1) // 2)
            bits = raw.view(np.uint32)[: len(chunk)]
            np.greater_equal(bits, self._threshold, out=chunk)
        torch.from_numpy(noise.eps_flat).normal_(generator=self.generator)


class ModuleOrderNoise:
    """The draws of ``ConditionalVAE.forward`` on the CPU, for the NumPy engine.

    For each batch it draws the four dropout masks and ``eps`` from torch's
    global generator in the order the module's forward pass draws them, then
    ``eps`` of the validation pass. The NumPy engine then uses the masks and
    ``eps`` that autograd training of the module would draw after the same
    ``torch.manual_seed``.
    """

    def fill(self, noise: EpochNoise) -> None:
        """Draw every mask and ``eps`` of ``noise`` in the module's order."""
        for b, size in enumerate(noise.batch_sizes):
            for layer, width in enumerate(noise.widths):
                # nn.Dropout on the CPU draws bernoulli_(1 - p) on a tensor
                # shaped like its input. eps is drawn between the encoder's and
                # the decoder's masks.
                mask = torch.empty(size, width).bernoulli_(1.0 - DROPOUT)
                noise.keep[b][layer][...] = mask.numpy()
                if layer == 1:
                    noise.eps[b][...] = torch.randn(size, noise.latent_dim).numpy()
        if noise.n_val:
            noise.val_eps[...] = torch.randn(noise.n_val, noise.latent_dim).numpy()


class NumpyTrainer:
    """Epochs of :class:`NumpyCVAE` and Adam on the CPU, for ``train_network``."""

    def __init__(
        self,
        model: ConditionalVAE,
        train_inputs: torch.Tensor,
        train_weights: torch.Tensor,
        val_inputs: torch.Tensor | None,
        val_weights: torch.Tensor | None,
        settings,
        batch_sizes: list[int],
        noise_source: DropoutNoise | ModuleOrderNoise,
        max_grad_norm: float,
    ) -> None:
        self.network = network = NumpyCVAE(model, settings.beta, settings.min_kl)
        self.optimizer = make_adam(
            network.data, network.grad, settings.learning_rate, settings.weight_decay
        )
        self.batch_sizes = batch_sizes
        self.noise_source = noise_source
        self.max_grad_norm = max_grad_norm
        self.has_validation = val_inputs is not None
        self._best = network.data.copy()
        n_val = len(val_inputs) if self.has_validation else 0
        self.noise = EpochNoise(network.widths, network.latent_dim, batch_sizes, n_val)

        # The [w, x, onehot, 1] rows of every training row, for np.take.
        self._source = self._data_rows(train_inputs, train_weights)
        scratch = {}
        self.passes = []
        for b, size in enumerate(batch_sizes):
            if size not in scratch:
                scratch[size] = _scratch(network, size)
            keep = self.noise.keep_by_batch[b]
            p = _Pass(network, self._empty_data(size), keep, scratch[size])
            p.eps = self.noise.eps_t[b]
            self.passes.append(p)

        self.val_pass = None
        if self.has_validation:
            data = self._empty_data(n_val)
            data[: self._source.shape[0]] = self._data_rows(val_inputs, val_weights)
            # Validation runs without dropout, so it needs no masks.
            self.val_pass = _Pass(network, data, None, _scratch(network, n_val))
            self.val_pass.eps = self.noise.val_eps_t

    def _data_rows(self, inputs: torch.Tensor, weights: torch.Tensor) -> np.ndarray:
        # The [w, x, onehot, 1] rows of the given rows, feature-major.
        n = len(inputs)
        rows = np.empty((1 + inputs.shape[1] + 1, n), dtype=FLOAT)
        rows[0] = weights.detach().numpy()
        rows[1:-1] = inputs.detach().numpy().T
        rows[-1] = 1.0
        return rows

    def _empty_data(self, n: int) -> np.ndarray:
        return np.empty(
            (self._source.shape[0] + self.network.latent_dim, n), dtype=FLOAT
        )

    def prepare_epoch(self, permutation: torch.Tensor) -> None:
        """Copy the batches cut from ``permutation`` into the passes and draw
        the epoch's dropout masks and ``eps``."""
        order = permutation.numpy()
        n_source_rows = self._source.shape[0]
        start = 0
        for p in self.passes:
            rows = order[start : start + p.n]
            np.take(self._source, rows, axis=1, out=p.data[:n_source_rows])
            start += p.n
        self.noise_source.fill(self.noise)

    def run_epoch(self, permutation: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Train one epoch over the batches cut from ``permutation``.

        Returns the ``(loss, reconstruction, kl)`` of each batch before its
        step, and those of the validation rows after the epoch (NaN without
        validation rows).
        """
        self.prepare_epoch(permutation)
        network = self.network
        batch_stats = []
        for p in self.passes:
            stats = network.forward(p, training=True)
            batch_stats.append(stats)
            network.backward(p, stats[2])
            network.clip_gradient(self.max_grad_norm)
            self.optimizer.step()
        val_stats = [math.nan] * 3
        if self.has_validation:
            val_stats = network.forward(self.val_pass, training=False)
        return np.array(batch_stats), np.array(val_stats)

    def save_best(self) -> None:
        np.copyto(self._best, self.network.data)

    def restore_best(self) -> None:
        np.copyto(self.network.data, self._best)

    def finish(self) -> None:
        self.network.store()


class _AdamState:
    """The arrays and hyperparameters that both Adam implementations share."""

    def __init__(
        self,
        parameter: np.ndarray,
        gradient: np.ndarray,
        learning_rate: float,
        weight_decay: float,
    ) -> None:
        self.parameter = parameter
        self.gradient = gradient
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.exp_avg = np.zeros_like(parameter)
        self.exp_avg_sq = np.zeros_like(parameter)


class NumpyAdam(_AdamState):
    """Adam with L2 weight decay on one flat float32 array, in NumPy.

    The update is the one of ``torch.optim.Adam(lr, betas=(0.9, 0.999),
    eps=1e-8, weight_decay)``, computed in place with one scratch array. It
    is used where :class:`FusedAdam` is not available.
    """

    def __init__(self, parameter, gradient, learning_rate, weight_decay) -> None:
        super().__init__(parameter, gradient, learning_rate, weight_decay)
        self._scratch = np.empty_like(parameter)
        self.step_count = 0

    def step(self) -> None:
        """Apply one update with the gradient in ``gradient``."""
        self.step_count += 1
        grad, scratch = self.gradient, self._scratch
        exp_avg, exp_avg_sq = self.exp_avg, self.exp_avg_sq
        if self.weight_decay != 0:
            np.multiply(self.parameter, self.weight_decay, out=scratch)
            np.add(grad, scratch, out=grad)
        # exp_avg.lerp_(grad, 1 - beta1), as torch computes it.
        np.subtract(grad, exp_avg, out=scratch)
        np.multiply(scratch, 1 - ADAM_BETA1, out=scratch)
        np.add(exp_avg, scratch, out=exp_avg)
        np.multiply(exp_avg_sq, ADAM_BETA2, out=exp_avg_sq)
        np.multiply(grad, grad, out=scratch)
        np.multiply(scratch, 1 - ADAM_BETA2, out=scratch)
        np.add(exp_avg_sq, scratch, out=exp_avg_sq)

        bias_correction1 = 1 - ADAM_BETA1**self.step_count
        bias_correction2 = 1 - ADAM_BETA2**self.step_count
        np.sqrt(exp_avg_sq, out=scratch)
        np.divide(scratch, bias_correction2**0.5, out=scratch)
        np.add(scratch, ADAM_EPS, out=scratch)
        np.divide(exp_avg, scratch, out=scratch)
        np.multiply(scratch, self.learning_rate / bias_correction1, out=scratch)
        np.subtract(self.parameter, scratch, out=self.parameter)


class FusedAdam(_AdamState):
    """Adam with L2 weight decay through torch's fused CPU kernel.

    ``torch._fused_adam_`` is the kernel behind ``torch.optim.Adam(fused=True)``
    and computes the update of :class:`NumpyAdam` in one pass over memory.
    Calling it directly skips about 90 microseconds of ``Optimizer.step``
    bookkeeping per step (measured with torch 2.13 on the benchmark machine).
    The tensors share memory with the NumPy arrays, so ``parameter`` is
    updated in place.
    """

    def __init__(self, parameter, gradient, learning_rate, weight_decay) -> None:
        super().__init__(parameter, gradient, learning_rate, weight_decay)
        self._tensors = [
            [torch.from_numpy(array)]
            for array in (parameter, gradient, self.exp_avg, self.exp_avg_sq)
        ]
        self._step = [torch.zeros(())]

    @property
    def step_count(self) -> int:
        """Number of updates applied so far."""
        return int(self._step[0])

    def step(self) -> None:
        """Apply one update with the gradient in ``gradient``."""
        self._step[0].add_(1)
        torch._fused_adam_(
            *self._tensors,
            [],
            self._step,
            lr=self.learning_rate,
            beta1=ADAM_BETA1,
            beta2=ADAM_BETA2,
            weight_decay=self.weight_decay,
            eps=ADAM_EPS,
            amsgrad=False,
            maximize=False,
        )


@functools.cache
def fused_adam_available() -> bool:
    """Return whether the installed torch has a CPU kernel for ``_fused_adam_``.

    The kernel is private API, on the CPU from torch 2.4 on. Without it,
    :func:`make_adam` falls back to :class:`NumpyAdam`.
    """
    try:
        FusedAdam(np.zeros(1, dtype=FLOAT), np.ones(1, dtype=FLOAT), 0.1, 0.0).step()
    except (AttributeError, NotImplementedError, RuntimeError, TypeError):
        return False
    return True


def make_adam(
    parameter: np.ndarray,
    gradient: np.ndarray,
    learning_rate: float,
    weight_decay: float,
) -> FusedAdam | NumpyAdam:
    """Return the faster available Adam for these arrays."""
    adam = FusedAdam if fused_adam_available() else NumpyAdam
    return adam(parameter, gradient, learning_rate, weight_decay)
